"""End to end over a real loopback server for the GPU and model-serving
RPCs: MIG partition placement, sensitivity-aware model placement, backend
sizing (Swayam) and frequency control (MIAD); each answer is checked by the
independent validator after its round trip through the wire format."""

from __future__ import annotations

import math
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from svc_builders import frequency_request, mig_request, models_request, sizing_request
from svc_live import LiveServer

from optsched.api.client import Client
from optsched.api.convert_problems import KINDS
from optsched.api.limits import Limits
from optsched.api.v1 import jobs_pb2, placement_pb2_grpc, serving_pb2, serving_pb2_grpc, types_pb2
from optsched.validate import validate

SOLVED = (types_pb2.SOLVE_STATUS_OPTIMAL, types_pb2.SOLVE_STATUS_FEASIBLE)


def _valid(kind: str, request: Any, response: Any) -> None:
    problem = KINDS[kind].problem(request, Limits())
    report = validate(problem, KINDS[kind].result_from(response))
    assert report.ok, report.summary()


def test_place_gpu_partitions(live: LiveServer) -> None:
    request = mig_request(solver="cpsat-mig")
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlaceGpuPartitions(
        request, timeout=30
    )
    assert response.info.status == types_pb2.SOLVE_STATUS_OPTIMAL
    assigned = {r for p in response.plans for r in p.assignments}
    assert assigned == {"r0", "r1", "r2"}
    created = {m.instance_id: m for p in response.plans for m in p.create}
    for p in response.plans:
        for r, inst in p.assignments.items():
            assert inst in created, (r, inst)  # nothing idle to reuse in this problem
    _valid("place_gpu_partitions", request, response)


def test_place_gpu_partitions_greedy_and_unplaced(live: LiveServer) -> None:
    request = mig_request(solver="greedy-mig")
    request.mig.requests.add(request_id="huge", profile="7g.80gb", priority=-5)
    request.mig.requests.add(request_id="huge2", profile="7g.80gb", priority=-5)
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlaceGpuPartitions(
        request, timeout=30
    )
    assert response.info.solver == "greedy-mig"
    assert response.info.status in SOLVED
    assert {u.item_id for u in response.unplaced} & {"huge", "huge2"}
    assert all(u.reason for u in response.unplaced)
    _valid("place_gpu_partitions", request, response)


def test_place_models(live: LiveServer) -> None:
    request = models_request()
    response = placement_pb2_grpc.PlacementStub(live.channel()).PlaceModels(request, timeout=30)
    assert response.info.status in SOLVED
    assert set(response.placement) == {p.partition_id for p in request.models.partitions}
    assert len({response.placement["llama/0"], response.placement["llama/1"]}) <= 2
    _valid("place_models", request, response)


def test_size_backends(live: LiveServer) -> None:
    request = sizing_request()
    response = serving_pb2_grpc.SizingStub(live.channel()).SizeBackends(request, timeout=30)
    assert response.info.status == types_pb2.SOLVE_STATUS_OPTIMAL
    assert [m.name for m in response.models] == ["resnet", "bert"]
    for m in response.models:
        assert m.HasField("backends") and m.backends >= m.stability_bound
        assert 0.95 <= m.predicted_compliance <= 1
    assert response.info.objective == sum(m.backends for m in response.models)
    _valid("size_backends", request, response)


def test_size_backends_infeasible_is_an_answer(live: LiveServer) -> None:
    request = sizing_request()
    request.sizing.max_backends = 8  # resnet needs 12, bert 6
    response = serving_pb2_grpc.SizingStub(live.channel()).SizeBackends(request, timeout=30)
    assert response.info.status == types_pb2.SOLVE_STATUS_INFEASIBLE
    assert {u.item_id for u in response.unplaced} == {"resnet"}
    assert not response.models  # no answer is sent for an unsolved problem


def test_control_frequency(live: LiveServer) -> None:
    request = frequency_request()
    response = serving_pb2_grpc.FrequencyStub(live.channel()).ControlFrequency(request, timeout=30)
    assert response.info.status in SOLVED and response.info.solver == "miad"
    (gpu,) = response.gpus
    assert gpu.gpu_id == "g0" and len(gpu.decisions) == len(request.frequency.gpus[0].periods)
    assert all(
        d.action != serving_pb2.CLOCK_ACTION_UNSPECIFIED and 200 <= d.clock_mhz <= 1380
        for d in gpu.decisions
    )
    mean = sum(d.clock_mhz for d in gpu.decisions) / len(gpu.decisions)
    assert math.isclose(response.info.objective, mean)
    _valid("control_frequency", request, response)


@pytest.mark.parametrize(
    ("build", "mutate", "field"),
    [
        (
            mig_request,
            lambda r: setattr(r.mig.requests[1], "min_memory_gb", math.nan),
            "mig.requests[1].min_memory_gb",
        ),
        (
            mig_request,
            lambda r: setattr(r.mig.requests[0], "profile", "9g.99gb"),
            "mig.requests[r0].profile",
        ),
        (
            models_request,
            lambda r: setattr(r.models.gpus[2], "memory_gb", -1.0),
            "models.gpus[2].memory_gb",
        ),
        (
            sizing_request,
            lambda r: r.sizing.models[0].service_times_ms.append(math.inf),
            "sizing.models[0].service_times_ms[40]",
        ),
        (
            sizing_request,
            lambda r: setattr(r.sizing.models[1], "sl_min", 1.0),
            "sizing.models[bert].sl_min",
        ),
        (
            frequency_request,
            lambda r: setattr(r.frequency.gpus[0].clocks, "min_mhz", 5000),
            "frequency.gpus[0].clocks.min_mhz",
        ),
        (
            frequency_request,
            lambda r: setattr(r.frequency.config, "up_slack", 1.5),
            "frequency.config.up_slack",
        ),
    ],
)
def test_bad_fields_are_named(live: LiveServer, build: Any, mutate: Any, field: str) -> None:
    request = build()
    mutate(request)
    with Client(live.address) as client, pytest.raises(grpc.RpcError) as exc:
        client.solve(request, timeout=30)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert exc.value.details().startswith(field + ":"), exc.value.details()


def test_new_kinds_run_as_jobs(live: LiveServer) -> None:
    with Client(live.address) as client:
        for build, kind in ((sizing_request, "size_backends"), (models_request, "place_models")):
            request = build()
            job = client.wait(client.submit(request, label=kind).job_id, timeout=60)
            assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED, job.error
            assert job.kind == kind
            _valid(kind, request, client.result(job.job_id))


def test_health_serves_the_new_services(live: LiveServer) -> None:
    stub = health_pb2_grpc.HealthStub(live.channel())
    for service in ("optsched.v1.Sizing", "optsched.v1.Frequency"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
