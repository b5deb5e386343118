"""Property tests: malformed, oversize, negative, NaN and inconsistent
requests to every RPC and extender verb are refused with INVALID_ARGUMENT
(HTTP 400 with the verb's ``Error``), and the server keeps serving."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from svc_builders import (
    frequency_request,
    mig_request,
    models_request,
    place_pods_request,
    place_vms_request,
    reschedule_request,
    sizing_request,
)
from svc_k8s import node, pod
from svc_live import LiveServer

from optsched.api.convert_problems import KINDS, rpc_paths
from optsched.api.limits import Limits
from optsched.api.v1 import jobs_pb2, placement_pb2_grpc

LIMITS = Limits(max_nodes=8, max_items=16, max_entries=4, max_quantity=10**9, max_budget_s=10.0)
Mutation = Callable[[Any, st.DataObject], None]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("props"), limits=LIMITS)
    yield server
    server.stop()


def _pick(data: st.DataObject, seq: Any) -> Any:
    return seq[data.draw(st.integers(0, len(seq) - 1))]


def negative_quantity(p: Any, data: st.DataObject) -> None:
    target = _pick(data, [*p.snapshot.nodes, *p.snapshot.items])
    res = target.capacity if hasattr(target, "capacity") else target.requests
    res.quantities[data.draw(st.sampled_from(["cpu_millis", "cpu_cores", "x"]))] = data.draw(
        st.integers(-(2**63), -1)
    )


def oversize_quantity(p: Any, data: st.DataObject) -> None:
    _pick(data, p.snapshot.nodes).capacity.quantities["memory_mib"] = data.draw(
        st.integers(10**9 + 1, 2**63 - 1)
    )


def too_many_nodes(p: Any, data: st.DataObject) -> None:
    for i in range(data.draw(st.integers(9, 20))):
        p.snapshot.nodes.add(name=f"extra{i}")


def too_many_labels(p: Any, data: st.DataObject) -> None:
    labels = _pick(data, p.snapshot.nodes).labels
    for i in range(5):
        labels[f"k{i}"] = "v"


def long_name(p: Any, data: st.DataObject) -> None:
    _pick(data, p.snapshot.items).item_id = "x" * data.draw(st.integers(254, 5000))


def empty_name(p: Any, data: st.DataObject) -> None:
    target = _pick(data, [*p.snapshot.nodes, *p.snapshot.items])
    target.ClearField("name" if hasattr(target, "unschedulable") else "item_id")


def duplicate_node(p: Any, data: st.DataObject) -> None:
    p.snapshot.nodes.add().CopyFrom(_pick(data, p.snapshot.nodes))


def unknown_assignment_node(p: Any, data: st.DataObject) -> None:
    p.snapshot.assignments.add(
        item_id=p.snapshot.items[0].item_id,
        node=data.draw(st.text(min_size=1, max_size=20)) + "-missing",
    )


def numa_out_of_range(p: Any, data: st.DataObject) -> None:
    a = p.snapshot.assignments[0]
    a.numa.append(data.draw(st.one_of(st.integers(-(2**31), -1), st.integers(2, 2**31 - 1))))


def bad_enum(p: Any, data: st.DataObject) -> None:
    _pick(data, p.snapshot.items).kind = data.draw(st.integers(3, 2**20))


def bad_operator(p: Any, data: st.DataObject) -> None:
    term = _pick(data, p.snapshot.items).affinity.add()
    term.selector.match_expressions.add(
        key="app", operator=data.draw(st.sampled_from(["In", "Bogus", ""]))
    )


def bad_taint(p: Any, data: st.DataObject) -> None:
    _pick(data, p.snapshot.nodes).taints.add(
        key="k",
        effect=data.draw(
            st.text(min_size=1, max_size=8).filter(
                lambda s: s not in ("NoSchedule", "PreferNoSchedule", "NoExecute")
            )
        ),
    )


def huge_priority(p: Any, data: st.DataObject) -> None:
    _pick(data, p.snapshot.items).priority = data.draw(
        st.one_of(st.integers(2**31 + 1, 2**63 - 1), st.integers(-(2**63), -(2**31) - 1))
    )


MUTATIONS = [
    negative_quantity,
    oversize_quantity,
    too_many_nodes,
    too_many_labels,
    long_name,
    empty_name,
    duplicate_node,
    unknown_assignment_node,
    numa_out_of_range,
    bad_enum,
    bad_operator,
    bad_taint,
    huge_priority,
]


BAD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-300, 1e300])


def mig_bad(p: Any, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 8))
    r = _pick(data, p.requests)
    if choice == 0:
        r.min_memory_gb = data.draw(BAD_FLOATS)
        r.ClearField("profile")
    elif choice == 1:
        r.profile = data.draw(st.text(max_size=12).filter(lambda t: "g." not in t))
    elif choice == 2:
        r.min_compute_slices = data.draw(st.integers(-(2**31), -1))
    elif choice == 3:
        r.min_memory_gb = 5.0  # and a profile: one or the other
        r.profile = "1g.5gb"
    elif choice == 4:
        p.gpus[0].model = data.draw(st.sampled_from(["", "V100", "a100-40gb"]))
    elif choice == 5:
        p.gpus.add().CopyFrom(p.gpus[0])  # duplicate GPU and instance ids
    elif choice == 6:
        p.gpus[0].instances.add(instance_id="x", profile="3g.20gb", start_slice=0)  # overlap
    elif choice == 7:
        p.gpus[0].instances[0].start_slice = data.draw(
            st.integers(-(2**31), -1) | st.integers(8, 99)
        )
    else:
        for i in range(data.draw(st.integers(17, 30))):
            p.requests.add(request_id=f"extra{i}", profile="1g.5gb")


def models_bad(p: Any, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 5))
    part = _pick(data, p.partitions)
    if choice == 0:
        setattr(
            part,
            data.draw(st.sampled_from(["memory_gb", "sensitivity", "weight"])),
            data.draw(BAD_FLOATS),
        )
    elif choice == 1:
        _pick(data, p.gpus).memory_gb = data.draw(st.sampled_from([0.0, math.nan, -8.0, math.inf]))
    elif choice == 2:
        p.partitions.add().CopyFrom(part)
    elif choice == 3:
        p.max_devices_per_model = data.draw(st.integers(-(2**31), 0))
    elif choice == 4:
        part.ClearField(data.draw(st.sampled_from(["model", "partition_id"])))
    else:
        p.gpus.add(gpu_id=p.gpus[0].gpu_id, memory_gb=8)


def sizing_bad(p: Any, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 6))
    m = _pick(data, p.models)
    if choice == 0:
        setattr(
            m,
            data.draw(st.sampled_from(["arrival_rate_per_s", "rt_max_ms", "burst_factor"])),
            data.draw(BAD_FLOATS),
        )
    elif choice == 1:
        m.service_times_ms[data.draw(st.integers(0, 29))] = data.draw(BAD_FLOATS | st.just(0.0))
    elif choice == 2:
        del m.service_times_ms[data.draw(st.integers(0, 11)) :]  # fewer than 30 samples
    elif choice == 3:
        m.sl_min = data.draw(st.sampled_from([0.0, 1.0, 1.5, -0.1, math.nan]))
    elif choice == 4:
        p.max_backends = data.draw(st.integers(-(2**63), 0) | st.integers(10**4 + 1, 2**63 - 1))
    elif choice == 5:
        m.rt_max_ms = 1.0  # below the fastest observed request
    else:
        p.models.add().CopyFrom(m)


def frequency_bad(p: Any, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 6))
    g = p.gpus[0]
    if choice == 0:
        g.clocks.min_mhz, g.clocks.max_mhz = data.draw(
            st.sampled_from([(0, 100), (-5, 100), (900, 800)])
        )
    elif choice == 1:
        g.periods.add().samples["bert"].latencies_ms.append(data.draw(BAD_FLOATS))
    elif choice == 2:
        g.periods.add().samples[
            data.draw(st.text(max_size=8).filter(lambda t: t != "bert"))
        ].latencies_ms.append(1.0)
    elif choice == 3:
        setattr(
            p.config,
            data.draw(st.sampled_from(["up_slack", "down_margin", "slo_margin", "period_s"])),
            data.draw(BAD_FLOATS | st.just(1.0)),
        )
    elif choice == 4:
        p.config.step_mhz = data.draw(st.integers(-(2**31), 0))
    elif choice == 5:
        g.start_mhz = data.draw(st.integers(1381, 2**31 - 1) | st.integers(-(2**31), 199))
    else:
        g.ClearField(data.draw(st.sampled_from(["partitions", "clocks", "gpu_id"])))


KIND_MUTATIONS: dict[str, list[Mutation]] = {
    "mig": [mig_bad],
    "models": [models_bad],
    "sizing": [sizing_bad],
    "frequency": [frequency_bad],
}


def bad_budget(req: Any, data: st.DataObject) -> None:
    choice = data.draw(st.integers(0, 2))
    if choice == 0:
        req.budget.seconds = data.draw(st.integers(-(2**40), -1))
    elif choice == 1:
        req.budget.nanos = data.draw(st.integers(10**9, 2**31 - 1))
    else:
        req.budget.seconds = data.draw(st.integers(86_401, 315_576_000_000))  # above both limits


REQUESTS = {
    "pods": place_pods_request,
    "vms": place_vms_request,
    "reschedule": reschedule_request,
    "mig": mig_request,
    "models": models_request,
    "sizing": sizing_request,
    "frequency": frequency_request,
}
KIND_BY_FIELD = {k.field: k.name for k in KINDS.values()}
PATHS = rpc_paths()


def _call(server: LiveServer, field: str, req: Any, as_job: bool) -> grpc.RpcError:
    channel = server.channel()
    name = KIND_BY_FIELD[field]
    try:
        if as_job:
            spec = jobs_pb2.JobSpec(**{name: req})
            from optsched.api.v1 import jobs_pb2_grpc

            jobs_pb2_grpc.JobsStub(channel).SubmitJob(
                jobs_pb2.SubmitJobRequest(spec=spec), timeout=30
            )
        else:
            channel.unary_unary(PATHS[name])(req.SerializeToString(), timeout=30)
    except grpc.RpcError as exc:
        return exc
    finally:
        channel.close()
    raise AssertionError("the bad request was accepted")


@settings(
    max_examples=140, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), field=st.sampled_from(sorted(REQUESTS)), as_job=st.booleans())
def test_bad_requests_are_invalid_argument(
    small: LiveServer, data: st.DataObject, field: str, as_job: bool
) -> None:
    req = REQUESTS[field]()
    if data.draw(st.integers(0, 5)) == 0:
        bad_budget(req, data)
    else:
        data.draw(st.sampled_from(KIND_MUTATIONS.get(field, MUTATIONS)))(getattr(req, field), data)
    exc = _call(small, field, req, as_job)
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
    assert exc.details() and "internal" not in exc.details()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.binary(min_size=1, max_size=200),
    method=st.sampled_from(
        [
            "/optsched.v1.Placement/PlacePods",
            "/optsched.v1.Placement/PlaceVms",
            "/optsched.v1.Rescheduling/Reschedule",
            "/optsched.v1.Placement/PlaceGpuPartitions",
            "/optsched.v1.Placement/PlaceModels",
            "/optsched.v1.Sizing/SizeBackends",
            "/optsched.v1.Frequency/ControlFrequency",
            "/optsched.v1.Jobs/SubmitJob",
            "/optsched.v1.Jobs/GetJob",
            "/optsched.v1.Jobs/ListJobs",
            "/optsched.v1.Jobs/CancelJob",
            "/optsched.v1.Jobs/GetJobResult",
        ]
    ),
)
def test_random_bytes_never_crash(small: LiveServer, payload: bytes, method: str) -> None:
    channel = small.channel()
    try:
        channel.unary_unary(method)(payload, timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND), (
            exc.details()
        )
    finally:
        channel.close()


def _post(server: LiveServer, verb: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(f"{server.http}/scheduler/{verb}", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _bad_pod(data: st.DataObject) -> Any:
    p = pod("p")
    choice = data.draw(st.integers(0, 4))
    requests = p["spec"]["containers"][0]["resources"]["requests"]
    if choice == 0:
        requests["cpu"] = data.draw(
            st.sampled_from([math.nan, math.inf, -1, "-500m", "abc", "1e400"])
        )
    elif choice == 1:
        p["spec"]["priority"] = data.draw(st.sampled_from([math.nan, "high", 1.5, None, []]))
    elif choice == 2:
        p["metadata"] = data.draw(st.sampled_from([None, [], {"name": ""}, {"name": 7}]))
    elif choice == 3:
        p["spec"]["containers"] = data.draw(
            st.sampled_from(["x", [1], [{"resources": {"requests": "lots"}}]])
        )
    else:
        p = data.draw(st.sampled_from([None, [], "pod", 3]))
    return p


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), verb=st.sampled_from(["filter", "prioritize", "preempt", "bind"]))
def test_bad_extender_requests_are_400(small: LiveServer, data: st.DataObject, verb: str) -> None:
    if data.draw(st.booleans()):
        body = data.draw(st.binary(max_size=100)).replace(b"{", b"")  # never a JSON object
    elif verb == "bind":
        args = {"PodName": "p", "PodNamespace": "default", "PodUID": "u", "Node": "n"}
        args[data.draw(st.sampled_from(sorted(args)))] = data.draw(
            st.sampled_from([None, 3, [], ""])
        )
        if args["PodUID"] == "":
            args["Node"] = None
        body = json.dumps(args).encode()
    else:
        args = {"Pod": _bad_pod(data), "Nodes": {"items": [node("n1"), node("n2", cpu="2")]}}
        if verb == "preempt":
            args = {
                "Pod": args["Pod"],
                "NodeNameToMetaVictims": {"n1": {"Pods": [], "NumPDBViolations": 0}},
            }
        body = json.dumps(args).encode()
    status, result = _post(small, verb, body)
    assert status == 400, result
    assert isinstance(result, dict) and result["Error"]


def test_still_serving_after_bad_input(small: LiveServer) -> None:
    reply = health_pb2_grpc.HealthStub(small.channel()).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert (
        placement_pb2_grpc.PlacementStub(small.channel())
        .PlacePods(place_pods_request(), timeout=30)
        .plan.actions
    )


def test_oversize_message_is_refused(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, limits=Limits(max_request_bytes=4096))
    try:
        req = place_pods_request()
        req.pods.snapshot.nodes[0].labels["big"] = "x" * 300
        for i in range(40):
            req.pods.snapshot.nodes[0].labels[f"k{i}"] = "v" * 200
        with pytest.raises(grpc.RpcError) as exc:
            placement_pb2_grpc.PlacementStub(server.channel()).PlacePods(req, timeout=10)
        assert (
            exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        )  # gRPC's own message-size limit
        assert placement_pb2_grpc.PlacementStub(server.channel()).PlacePods(
            place_pods_request(), timeout=30
        )
    finally:
        server.stop()
