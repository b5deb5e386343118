"""Solve requests <-> problems, and the table of request kinds.

A *kind* ties one solve RPC together: its request and response messages, the
request field holding the problem (``pods``, ``vms``, ``reschedule``, ``mig``,
``models``, ``sizing``, ``frequency``: each
request type has its own, so a proto3 JSON file says which kind it is), and
the converters. The servicers, the job runner, the client and the CLI all
work from :data:`KINDS`, so a new problem type is one entry here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf import duration_pb2
from google.protobuf.message import Message

from optsched.api import convert_gpu as gpu
from optsched.api import convert_serving as serving
from optsched.api.convert_model import at, quantity, snapshot_from_proto, snapshot_to_proto, text
from optsched.api.convert_results import result_from_proto, result_to_proto
from optsched.api.limits import Limits
from optsched.api.v1 import gpu_pb2, placement_pb2, rescheduling_pb2, serving_pb2
from optsched.errors import DomainError
from optsched.problems import PodPlacement, VmPlacement, VmRescheduling
from optsched.problems.cluster import PACKING_LEAST, PACKING_MOST
from optsched.results import SolveResult

PACKING_FROM_PROTO = {
    placement_pb2.PACKING_UNSPECIFIED: PACKING_MOST,
    placement_pb2.PACKING_MOST_ALLOCATED: PACKING_MOST,
    placement_pb2.PACKING_LEAST_ALLOCATED: PACKING_LEAST,
}
PACKING_TO_PROTO = {
    PACKING_MOST: placement_pb2.PACKING_MOST_ALLOCATED,
    PACKING_LEAST: placement_pb2.PACKING_LEAST_ALLOCATED,
}


def budget_from_proto(
    msg: duration_pb2.Duration, path: str, default_s: float, max_s: float
) -> float:
    """Seconds of a requested budget; unset (zero) means ``default_s``."""
    if msg.seconds < 0 or msg.nanos < 0:
        raise DomainError(path, "must not be negative")
    if msg.nanos >= 1_000_000_000:
        raise DomainError(f"{path}.nanos", "must be below 10**9")
    seconds = msg.seconds + msg.nanos / 1e9
    if seconds == 0:
        return default_s
    if not math.isfinite(seconds) or seconds > max_s:
        raise DomainError(path, f"is {seconds:g} s, at most {max_s:g} s allowed")
    return seconds


def _placement(cls: type[PodPlacement], default_kind: str) -> Callable[[Any, str, Limits], Any]:
    def decode(msg: placement_pb2.PlacementProblem, path: str, limits: Limits) -> PodPlacement:
        if not msg.HasField("snapshot"):
            raise DomainError(f"{path}.snapshot", "is required")
        snapshot = snapshot_from_proto(msg.snapshot, f"{path}.snapshot", limits, default_kind)
        if msg.packing not in PACKING_FROM_PROTO:
            raise DomainError(f"{path}.packing", f"unknown packing {msg.packing}")
        kw: dict[str, Any] = {}
        if msg.HasField("protected_namespaces"):
            names = msg.protected_namespaces.names
            kw["protected_namespaces"] = tuple(
                text(n, f"{path}.protected_namespaces.names[{i}]") for i, n in enumerate(names)
            )
        if msg.HasField("max_moves"):
            kw["max_moves"] = quantity(msg.max_moves, f"{path}.max_moves", limits)
        with at(path):
            return cls(
                snapshot=snapshot,
                allow_evictions=msg.allow_evictions if msg.HasField("allow_evictions") else True,
                allow_moves=msg.allow_moves if msg.HasField("allow_moves") else True,
                packing=PACKING_FROM_PROTO[msg.packing],
                **kw,
            )

    return decode


def _placement_to_proto(problem: PodPlacement, msg: placement_pb2.PlacementProblem) -> None:
    snapshot_to_proto(problem.snapshot, msg.snapshot)
    msg.allow_evictions, msg.allow_moves = problem.allow_evictions, problem.allow_moves
    msg.packing = PACKING_TO_PROTO[problem.packing]  # type: ignore[assignment]
    msg.protected_namespaces.names[:] = list(problem.protected_namespaces)
    if problem.max_moves is not None:
        msg.max_moves = problem.max_moves


def _reschedule(
    msg: rescheduling_pb2.ReschedulingProblem, path: str, limits: Limits
) -> VmRescheduling:
    if not msg.HasField("snapshot"):
        raise DomainError(f"{path}.snapshot", "is required")
    snapshot = snapshot_from_proto(msg.snapshot, f"{path}.snapshot", limits, "vm")
    hosts = set()
    for i, h in enumerate(msg.excluded_hosts):
        if h not in snapshot.node_index:
            raise DomainError(f"{path}.excluded_hosts[{i}]", f"unknown host {h!r}")
        hosts.add(h)
    kw: dict[str, Any] = {}
    if msg.HasField("fragment_cores"):
        kw["fragment_cores"] = quantity(msg.fragment_cores, f"{path}.fragment_cores", limits)
        if kw["fragment_cores"] < 1:
            raise DomainError(f"{path}.fragment_cores", "must be at least 1")
    if msg.HasField("memory_per_core_mb"):
        where = f"{path}.memory_per_core_mb"
        kw["memory_per_core_mb"] = quantity(msg.memory_per_core_mb, where, limits)
    if msg.cpu_resource:
        kw["cpu_resource"] = text(msg.cpu_resource, f"{path}.cpu_resource")
    for it in snapshot.items:
        if it.item_id not in snapshot.assignments:
            raise DomainError(f"{path}.snapshot.assignments", f"VM {it.item_id!r} is not placed")
    with at(path):
        return VmRescheduling(
            snapshot=snapshot,
            migration_limit=quantity(msg.migration_limit, f"{path}.migration_limit", limits),
            excluded_hosts=frozenset(hosts),
            memory_aware=msg.memory_aware,
            **kw,
        )


def _reschedule_to_proto(
    problem: VmRescheduling, msg: rescheduling_pb2.ReschedulingProblem
) -> None:
    snapshot_to_proto(problem.snapshot, msg.snapshot)
    msg.migration_limit, msg.fragment_cores = problem.migration_limit, problem.fragment_cores
    msg.excluded_hosts[:] = sorted(problem.excluded_hosts)
    msg.cpu_resource, msg.memory_aware = problem.cpu_resource, problem.memory_aware
    msg.memory_per_core_mb = problem.memory_per_core_mb


@dataclass(frozen=True)
class Kind:
    name: str
    field: str
    request: type[Message]
    response: type[Message]
    decode: Callable[[Any, str, Limits], Any]
    encode: Callable[[Any, Any], None]
    # Kinds whose answer is not a cluster Plan carry it in their own response
    # fields: SolveResult.solution <-> response.
    encode_solution: Callable[[Any, Any], None] | None = None
    decode_solution: Callable[[Any, str], Any] | None = None

    def problem(self, request: Any, limits: Limits) -> Any:
        if not request.HasField(self.field):
            raise DomainError(self.field, "is required")
        return self.decode(getattr(request, self.field), self.field, limits)

    def response_for(self, result: SolveResult, effective_budget_s: float) -> Any:
        response = result_to_proto(result, self.response(), effective_budget_s)
        if self.encode_solution is not None and result.status.has_solution:
            self.encode_solution(result.solution, response)
        return response

    def result_from(self, response: Any, path: str = "") -> SolveResult:
        """The SolveResult a response of this kind describes (for the validator)."""
        result = result_from_proto(response, path)
        if self.decode_solution is None or not result.status.has_solution:
            return result
        return replace(result, solution=self.decode_solution(response, f"{path}." if path else ""))

    def request_for(self, problem: Any, budget_s: float | None = None, solver: str = "") -> Any:
        req = self.request(solver=solver)
        self.encode(problem, getattr(req, self.field))
        if budget_s:
            req.budget.FromNanoseconds(round(budget_s * 1e9))  # type: ignore[attr-defined]
        return req


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "place_pods",
            "pods",
            placement_pb2.PlacePodsRequest,
            placement_pb2.PlacePodsResponse,
            _placement(PodPlacement, "pod"),
            _placement_to_proto,
        ),
        Kind(
            "place_vms",
            "vms",
            placement_pb2.PlaceVmsRequest,
            placement_pb2.PlaceVmsResponse,
            _placement(VmPlacement, "vm"),
            _placement_to_proto,
        ),
        Kind(
            "reschedule",
            "reschedule",
            rescheduling_pb2.RescheduleRequest,
            rescheduling_pb2.RescheduleResponse,
            _reschedule,
            _reschedule_to_proto,
        ),
        Kind(
            "place_gpu_partitions",
            "mig",
            gpu_pb2.PlaceGpuPartitionsRequest,
            gpu_pb2.PlaceGpuPartitionsResponse,
            gpu.mig_from_proto,
            gpu.mig_to_proto,
            gpu.mig_solution_to_proto,
            gpu.mig_solution_from_proto,
        ),
        Kind(
            "place_models",
            "models",
            gpu_pb2.PlaceModelsRequest,
            gpu_pb2.PlaceModelsResponse,
            gpu.models_from_proto,
            gpu.models_to_proto,
            gpu.models_solution_to_proto,
            gpu.models_solution_from_proto,
        ),
        Kind(
            "size_backends",
            "sizing",
            serving_pb2.SizeBackendsRequest,
            serving_pb2.SizeBackendsResponse,
            serving.sizing_from_proto,
            serving.sizing_to_proto,
            serving.sizing_solution_to_proto,
            serving.sizing_solution_from_proto,
        ),
        Kind(
            "control_frequency",
            "frequency",
            serving_pb2.ControlFrequencyRequest,
            serving_pb2.ControlFrequencyResponse,
            serving.frequency_from_proto,
            serving.frequency_to_proto,
            serving.frequency_solution_to_proto,
            serving.frequency_solution_from_proto,
        ),
    )
}


# The proto files whose services hold the solve RPCs (gpu.proto's RPCs are
# on Placement).
SOLVE_FILES = (placement_pb2.DESCRIPTOR, rescheduling_pb2.DESCRIPTOR, serving_pb2.DESCRIPTOR)


def rpc_paths() -> dict[str, str]:
    """Kind name -> the full method path of its RPC (``/optsched.v1.Placement/PlacePods``)."""
    by_request = {k.request.DESCRIPTOR.full_name: k.name for k in KINDS.values()}
    return {
        by_request[m.input_type.full_name]: f"/{service.full_name}/{m.name}"
        for f in SOLVE_FILES
        for service in f.services_by_name.values()
        for m in service.methods
    }


def kind_of_request(request: Message) -> Kind:
    for k in KINDS.values():
        if isinstance(request, k.request):
            return k
    raise DomainError("request", f"{type(request).__name__} is not a solve request")
