"""The synthetic cluster generators: deterministic per seed, and every
generated placement is feasible (checked by the independent validator by
replaying the snapshot's placement as a plan)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.datasets.generator import PodClusterSpec, VmClusterSpec, pod_cluster, vm_cluster
from optsched.errors import DomainError
from optsched.model import CPU_CORES, GPU_COUNT, Snapshot
from optsched.problems import PodPlacement, VmPlacement, VmRescheduling
from optsched.results import Action, ActionKind, Plan, SolveResult, Status, Unplaced
from optsched.validate import validate


def replay(snap: Snapshot) -> SolveResult:
    """A plan that places every placed item of ``snap`` from an empty cluster."""
    actions = tuple(Action(ActionKind.PLACE, i, None, a) for i, a in snap.assignments.items())
    unplaced = tuple(Unplaced(it.item_id, "pending") for it in snap.pending)
    return SolveResult(Status.FEASIBLE, "replay", Plan(actions), unplaced=unplaced)


def emptied(snap: Snapshot) -> Snapshot:
    return snap.with_assignments({})


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6))
def test_pod_cluster_is_feasible_and_deterministic(seed: int) -> None:
    spec = PodClusterSpec(nodes=6, replicasets=8, seed=seed)
    snap = pod_cluster(spec)
    assert snap == pod_cluster(spec)
    report = validate(PodPlacement(emptied(snap), protected_namespaces=()), replay(snap))
    assert report.ok, report.summary()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 2))
def test_vm_cluster_is_feasible_and_deterministic(seed: int, clusters: int) -> None:
    spec = VmClusterSpec(hosts=6, clusters=clusters, seed=seed)
    snap = vm_cluster(spec)
    assert snap == vm_cluster(spec)
    assert not snap.pending
    assert all(
        snap.item(i).cluster == snap.node(a.node).cluster for i, a in snap.assignments.items()
    )
    report = validate(VmPlacement(emptied(snap)), replay(snap))
    # VMs may sit on cordoned hosts (placed before the cordon); nothing else fails
    assert report.codes() <= {"unschedulable"}, report.summary()
    assert all(not snap.node(v.node or "").schedulable for v in report.violations)
    VmRescheduling(snap, migration_limit=5)  # a valid rescheduling input


def test_seeds_differ_and_shapes_follow_the_spec() -> None:
    a, b = pod_cluster(PodClusterSpec(seed=1)), pod_cluster(PodClusterSpec(seed=2))
    assert a != b
    big = pod_cluster(
        PodClusterSpec(nodes=30, replicasets=40, gpu_share=0.3, pending_share=0.2, seed=3)
    )
    assert len(big.nodes) == 30
    assert any(n.taints and n.capacity[GPU_COUNT] for n in big.nodes)
    assert any(it.anti_affinity for it in big.items)
    assert len({it.priority for it in big.items}) > 1
    assert 0 < len(big.pending) < len(big.items)
    vms = vm_cluster(VmClusterSpec(hosts=30, target_utilization=0.8, seed=3))
    used = sum(it.requests[CPU_CORES] for it in vms.items)
    total = sum(n.capacity[CPU_CORES] for n in vms.nodes)
    assert 0.5 < used / total <= 0.8 + 32 / total
    assert any(it.numa_split for it in vms.items) and any(it.anti_affinity for it in vms.items)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: PodClusterSpec(nodes=0), "nodes"),
        (lambda: PodClusterSpec(pending_share=1.5), "pending_share"),
        (lambda: PodClusterSpec(priorities=()), "priorities"),
        (lambda: VmClusterSpec(clusters=0), "clusters"),
        (lambda: VmClusterSpec(target_utilization=-0.1), "target_utilization"),
        (lambda: VmClusterSpec(deployment_sets=-1), "deployment_sets"),
    ],
)
def test_bad_specs_name_the_field(build, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as exc:
        build()
    assert exc.value.field == field
