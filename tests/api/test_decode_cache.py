"""The server's decode cache: decoded nodes and items reused by their bytes
must give the very snapshot a fresh decode gives, and bad input must fail
with the same field path either way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optsched.api import decode_cache
from optsched.api.convert_problems import KINDS
from optsched.api.decode_cache import DecodeCache
from optsched.api.limits import Limits
from optsched.datasets.generator import PodClusterSpec, VmClusterSpec, pod_cluster, vm_cluster
from optsched.errors import DomainError
from optsched.problems import PodPlacement, VmPlacement


@pytest.fixture
def cache() -> Iterator[DecodeCache]:
    before = decode_cache.active()
    made = decode_cache.configure(10_000)
    assert made is not None
    yield made
    decode_cache.install(before)


def _decode(request: object, kind: str, limits: Limits) -> object:
    return KINDS[kind].problem(request, limits)


def _snap(request: object, kind: str):  # type: ignore[no-untyped-def]
    """The snapshot message inside a request of ``kind``."""
    return getattr(request, KINDS[kind].field).snapshot


def _without_cache(request: object, kind: str, limits: Limits) -> object:
    saved = decode_cache.active()
    decode_cache.configure(0)
    try:
        return _decode(request, kind, limits)
    finally:
        decode_cache.install(saved)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000), vms=st.booleans(), size=st.integers(1, 6))
def test_cached_decode_equals_a_fresh_one(
    cache: DecodeCache, seed: int, vms: bool, size: int
) -> None:
    if vms:
        kind, problem = "place_vms", VmPlacement(vm_cluster(VmClusterSpec(hosts=size, seed=seed)))
    else:
        snap = pod_cluster(PodClusterSpec(nodes=size, replicasets=size, seed=seed))
        kind, problem = "place_pods", PodPlacement(snap)
    request = KINDS[kind].request_for(problem, 1.0)
    limits = Limits()
    fresh = _without_cache(request, kind, limits)
    first = _decode(request, kind, limits)
    hits = cache.hits
    second = _decode(request, kind, limits)
    assert first == fresh and second == fresh
    snap = problem.snapshot
    assert cache.hits - hits == len(snap.nodes) + len(snap.items)  # all found the second time


def test_the_same_bytes_decode_per_kind_and_limits(cache: DecodeCache) -> None:
    """An item's kind defaults to the RPC's (pod or VM), and limits bound what
    is accepted: the cache keeps decodes apart by both."""
    snap = vm_cluster(VmClusterSpec(hosts=2, seed=1))
    as_vms = KINDS["place_vms"].request_for(VmPlacement(snap), 1.0)
    as_pods = KINDS["place_pods"].request_for(PodPlacement(snap), 1.0)
    for request, kind in ((as_vms, "place_vms"), (as_pods, "place_pods")):
        for it in _snap(request, kind).items:
            it.ClearField("kind")  # unset: the RPC's default applies
    assert _snap(as_vms, "place_vms") == _snap(as_pods, "place_pods")  # same bytes
    vms = _decode(as_vms, "place_vms", Limits())
    pods = _decode(as_pods, "place_pods", Limits())
    assert {it.kind for it in vms.snapshot.items} == {"vm"}  # type: ignore[attr-defined]
    assert {it.kind for it in pods.snapshot.items} == {"pod"}  # type: ignore[attr-defined]
    tight = Limits(max_quantity=1)
    with pytest.raises(DomainError, match="at most 1 allowed"):
        _decode(as_vms, "place_vms", tight)


@pytest.mark.parametrize("where", ["node", "item"])
def test_bad_input_names_the_same_field_with_a_warm_cache(cache: DecodeCache, where: str) -> None:
    snap = pod_cluster(PodClusterSpec(nodes=3, replicasets=3, seed=2))
    request = KINDS["place_pods"].request_for(PodPlacement(snap), 1.0)
    _decode(request, "place_pods", Limits())  # every node and item now cached
    if where == "node":
        _snap(request, "place_pods").nodes[1].capacity.quantities["cpu_millis"] = -5
    else:
        _snap(request, "place_pods").items[2].requests.quantities["memory_mib"] = -5
    with pytest.raises(DomainError) as cached:
        _decode(request, "place_pods", Limits())
    with pytest.raises(DomainError) as fresh:
        _without_cache(request, "place_pods", Limits())
    assert cached.value.field == fresh.value.field
    assert f"{where}s[" in cached.value.field


def test_a_duplicate_is_refused_even_when_both_copies_are_cached(cache: DecodeCache) -> None:
    snap = pod_cluster(PodClusterSpec(nodes=2, replicasets=2, seed=3))
    request = KINDS["place_pods"].request_for(PodPlacement(snap), 1.0)
    _decode(request, "place_pods", Limits())
    nodes = _snap(request, "place_pods").nodes
    nodes.add().CopyFrom(nodes[0])
    with pytest.raises(DomainError, match="duplicate node name"):
        _decode(request, "place_pods", Limits())


def test_generations_bound_the_size_and_keep_what_is_used() -> None:
    c = DecodeCache(4)
    for i in range(3):
        c.put(0, b"%d" % i, i)
    assert c.get(0, b"0") == 0  # promoted into the young generation
    for i in range(3, 10):
        c.put(0, b"%d" % i, i)
        assert len(c) <= 4
    assert c.get(0, b"1") is None and c.get(0, b"9") == 9
    assert c.get(1, b"9") is None  # another scope
    assert (c.hits, c.misses) == (2, 2)
    with pytest.raises(ValueError):
        DecodeCache(1)
