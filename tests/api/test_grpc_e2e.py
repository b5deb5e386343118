"""End to end over a real loopback server: every RPC, health, reflection,
deadlines, the concurrency cap, errors."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from svc_builders import place_pods_request, place_vms_request, reschedule_request
from svc_live import LiveServer

from optsched.api.convert_problems import KINDS
from optsched.api.limits import Limits
from optsched.api.v1 import placement_pb2_grpc, rescheduling_pb2_grpc, types_pb2
from optsched.budget import Budget
from optsched.portfolio import Portfolio
from optsched.problems.base import ProblemKind
from optsched.registry import Registry
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.validate import validate


def _valid(kind: str, request, response) -> None:  # type: ignore[no-untyped-def]
    problem = KINDS[kind].problem(request, Limits())
    report = validate(problem, KINDS[kind].result_from(response))
    assert report.ok, report.summary()


def test_place_pods_places_every_pod(live: LiveServer) -> None:
    request = place_pods_request()
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlacePods(request, timeout=30)
    assert response.info.status == types_pb2.SOLVE_STATUS_OPTIMAL
    placed = [a.item_id for a in response.plan.actions if a.kind == types_pb2.ACTION_KIND_PLACE]
    assert sorted(placed) == [f"default/new{i}" for i in range(4)]
    assert 0 < response.info.effective_budget.ToNanoseconds() <= 2e9
    _valid("place_pods", request, response)


def test_place_vms_and_named_solver(live: LiveServer) -> None:
    request = place_vms_request(solver="first-fit-decreasing")
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlaceVms(request, timeout=30)
    assert response.info.solver == "first-fit-decreasing"
    assert [a.item_id for a in response.plan.actions] == ["vm-new"]
    assert len(response.plan.actions[0].target.numa) in (1, 2)
    _valid("place_vms", request, response)


def test_reschedule_respects_the_migration_limit(live: LiveServer) -> None:
    request = reschedule_request(limit=1)
    response = rescheduling_pb2_grpc.ReschedulingStub(live.channel()).Reschedule(
        request, timeout=30
    )
    assert response.info.status in (types_pb2.SOLVE_STATUS_OPTIMAL, types_pb2.SOLVE_STATUS_FEASIBLE)
    assert len(response.plan.actions) <= 1
    _valid("reschedule", request, response)


def test_deadline_caps_the_budget(live: LiveServer) -> None:
    request = place_pods_request(budget_s=60.0)
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlacePods(request, timeout=3.0)
    assert response.info.effective_budget.ToNanoseconds() < 3e9


def test_expired_deadline_is_deadline_exceeded(live: LiveServer) -> None:
    stub = placement_pb2_grpc.PlacementStub(live.channel())
    with pytest.raises(grpc.RpcError) as exc:
        stub.PlacePods(place_pods_request(), timeout=0.0005)
    assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_invalid_argument_names_the_field(live: LiveServer) -> None:
    request = place_pods_request()
    request.pods.snapshot.nodes[1].capacity.quantities["cpu_millis"] = -5
    with pytest.raises(grpc.RpcError) as exc:
        placement_pb2_grpc.PlacementStub(live.channel()).PlacePods(request, timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert exc.value.details().startswith("pods.snapshot.nodes[1].capacity.quantities[cpu_millis]")


def test_unknown_solver_is_invalid_argument(live: LiveServer) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        placement_pb2_grpc.PlacementStub(live.channel()).PlacePods(
            place_pods_request(solver="nope"), timeout=10
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert exc.value.details().startswith("solver:")


def test_garbage_bytes_are_invalid_argument(live: LiveServer) -> None:
    call = live.channel().unary_unary("/optsched.v1.Placement/PlacePods")
    with pytest.raises(grpc.RpcError) as exc:
        call(b"\xff\xff\xff\x0f garbage", timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_serves_every_service(live: LiveServer) -> None:
    stub = health_pb2_grpc.HealthStub(live.channel())
    for service in ("", "optsched.v1.Placement", "optsched.v1.Rescheduling", "optsched.v1.Jobs"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(live: LiveServer) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(live.channel())
    replies = list(
        stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
    )
    names = {s.name for s in replies[0].list_services_response.service}
    assert {
        "optsched.v1.Placement",
        "optsched.v1.Rescheduling",
        "optsched.v1.Jobs",
        "optsched.v1.Sizing",
        "optsched.v1.Frequency",
        "grpc.health.v1.Health",
    } <= names
    file_req = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="optsched.v1.Placement"
    )
    replies = list(stub.ServerReflectionInfo(iter([file_req]), timeout=5))
    assert replies[0].file_descriptor_response.file_descriptor_proto
    # The Placement service's GPU methods resolve through reflection too.
    method_req = reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="optsched.v1.PlaceGpuPartitionsRequest"
    )
    replies = list(stub.ServerReflectionInfo(iter([method_req]), timeout=5))
    assert replies[0].file_descriptor_response.file_descriptor_proto


def test_metrics_count_requests(live: LiveServer) -> None:
    import urllib.request

    placement_pb2_grpc.PlacementStub(live.channel()).PlacePods(place_pods_request(), timeout=30)
    text = urllib.request.urlopen(f"{live.http}/metrics", timeout=5).read().decode()
    assert (
        'optsched_rpc_requests_total{code="OK",method="/optsched.v1.Placement/PlacePods"}' in text
    )
    assert "optsched_solver_choices_total" in text
    assert 'optsched_jobs{state="queued"}' in text


def test_a_resent_cluster_is_found_in_the_decode_cache(live: LiveServer) -> None:
    import urllib.request

    def counts() -> dict[str, float]:
        text = urllib.request.urlopen(f"{live.http}/metrics", timeout=5).read().decode()
        prefix = "optsched_decode_cache{count="
        rows = [ln[len(prefix) :].split() for ln in text.splitlines() if ln.startswith(prefix)]
        return {k.strip('"}'): float(v) for k, v in rows}

    stub = placement_pb2_grpc.PlacementStub(live.channel())
    request = place_pods_request()
    stub.PlacePods(request, timeout=30)
    before = counts()
    stub.PlacePods(request, timeout=30)
    after = counts()
    snap = request.pods.snapshot
    assert after["hits"] - before["hits"] == len(snap.nodes) + len(snap.items)
    assert after["misses"] == before["misses"] and after["entries"] > 0


def _inline_count(live: LiveServer) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"{live.http}/metrics", timeout=5).read().decode()
    line = next(ln for ln in text.splitlines() if ln.startswith("optsched_solves_inline_total"))
    return float(line.split()[-1])


def test_small_one_shot_requests_are_answered_inline_and_validated(live: LiveServer) -> None:
    stub = placement_pb2_grpc.PlacementStub(live.channel())
    before = _inline_count(live)
    request = place_vms_request(solver="first-fit-decreasing")
    response = stub.PlaceVms(request, timeout=30)
    _valid("place_vms", request, response)
    assert _inline_count(live) == before + 1
    # an anytime solver, or no solver named, goes to the worker pool
    stub.PlaceVms(place_vms_request(), timeout=30)
    assert _inline_count(live) == before + 1
    # bad input on the inline path is still INVALID_ARGUMENT naming the field
    bad = place_vms_request(solver="first-fit-decreasing")
    bad.vms.snapshot.nodes[0].name = ""
    with pytest.raises(grpc.RpcError) as exc:
        stub.PlaceVms(bad, timeout=30)
    assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "nodes[0]" in (exc.value.details() or "")


@dataclass
class Gate:
    """A placement solver that holds its worker until released (bounded by
    its budget), so the test controls how many solves are in flight."""

    release: threading.Event
    started: threading.Event
    name: str = "gate"
    capabilities: Capabilities = Capabilities(
        SolverKind.HEURISTIC, frozenset({ProblemKind.POD_PLACEMENT})
    )

    def solve(self, problem: Any, budget: Budget) -> SolveResult:
        self.started.set()
        self.release.wait(budget.remaining())
        return SolveResult(Status.NO_SOLUTION_IN_TIME, self.name)


def test_concurrency_cap_is_resource_exhausted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gate = Gate(threading.Event(), threading.Event())
    registry = Registry()
    registry.register("gate", lambda: gate, gate.capabilities.problem_kinds)
    server = LiveServer(
        tmp_path, Portfolio(registry=registry, latency={}), max_concurrent=1, workers=1
    )
    try:
        stub = placement_pb2_grpc.PlacementStub(server.channel())
        held = stub.PlacePods.future(place_pods_request(budget_s=30.0), timeout=60)
        assert gate.started.wait(30)
        with pytest.raises(grpc.RpcError) as exc:
            stub.PlacePods(place_pods_request(), timeout=30)
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        gate.release.set()
        assert held.result().info.status == types_pb2.SOLVE_STATUS_NO_SOLUTION_IN_TIME
        stub.PlacePods(place_pods_request(), timeout=30)  # admitted again once the cap frees
    finally:
        gate.release.set()
        server.stop()


def test_settle_heap_freezes_start_up_objects_and_collects_less_often(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import gc\n"
        "import optsched.api.server  # what a server loads at start-up\n"
        "from optsched.heap import GC_YOUNG_THRESHOLD, settle_heap\n"
        "before = gc.get_threshold()\n"
        "settle_heap()\n"
        "after = gc.get_threshold()\n"
        "assert gc.get_freeze_count() > 10_000, gc.get_freeze_count()\n"
        "assert after == (GC_YOUNG_THRESHOLD, *before[1:]), (before, after)\n"
    )
    run = [sys.executable, "-c", code]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
