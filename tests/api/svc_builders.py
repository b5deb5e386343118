"""Small request builders for the service tests."""

from __future__ import annotations

from optsched.api.convert_problems import KINDS
from optsched.model import Assignment, Gpu, Item, MigInstance, Node, NumaNode, Snapshot
from optsched.problems import PodPlacement, VmPlacement, VmRescheduling
from optsched.problems.frequency import (
    ClockRange,
    FrequencyControl,
    GpuClockTrace,
    MiadConfig,
    PartitionSlo,
)
from optsched.problems.gpu import (
    GpuDevice,
    GpuPartitionPlacement,
    MigRequest,
    ModelPartition,
    ModelPlacement,
)
from optsched.problems.sizing import BackendSizing, ModelSla


def pod_snapshot(nodes: int = 3, pending: int = 4) -> Snapshot:
    ns = tuple(
        Node(f"n{i}", {"cpu_millis": 4000, "memory_mib": 8192, "pods": 110}) for i in range(nodes)
    )
    placed = [
        Item(f"default/run{i}", {"cpu_millis": 1000, "memory_mib": 1024, "pods": 1}, owner="rs/a")
        for i in range(2)
    ]
    new = [
        Item(f"default/new{i}", {"cpu_millis": 1500, "memory_mib": 2048, "pods": 1}, priority=10)
        for i in range(pending)
    ]
    return Snapshot(
        ns, (*placed, *new), {"default/run0": Assignment("n0"), "default/run1": Assignment("n1")}
    )


def vm_snapshot(hosts: int = 3, vms: int = 6) -> Snapshot:
    numa = (
        NumaNode({"cpu_cores": 16, "memory_mb": 65536}),
        NumaNode({"cpu_cores": 16, "memory_mb": 65536}),
    )
    ns = tuple(
        Node(f"h{i}", {"cpu_cores": 32, "memory_mb": 131072}, numa=numa) for i in range(hosts)
    )
    items = tuple(
        Item(f"vm{j}", {"cpu_cores": 4 + 2 * (j % 3), "memory_mb": 8192}, kind="vm")
        for j in range(vms)
    )
    assign = {f"vm{j}": Assignment(f"h{j % hosts}", (j % 2,)) for j in range(vms)}
    return Snapshot(ns, items, assign)


def place_pods_request(budget_s: float = 2.0, solver: str = "", **kw: object):  # type: ignore[no-untyped-def]
    return KINDS["place_pods"].request_for(PodPlacement(pod_snapshot(**kw)), budget_s, solver)  # type: ignore[arg-type]


def place_vms_request(budget_s: float = 2.0, solver: str = ""):  # type: ignore[no-untyped-def]
    snap = vm_snapshot()
    pending = Item("vm-new", {"cpu_cores": 8, "memory_mb": 16384}, kind="vm")
    snap = Snapshot(snap.nodes, (*snap.items, pending), snap.assignments)
    return KINDS["place_vms"].request_for(VmPlacement(snap), budget_s, solver)


def reschedule_request(budget_s: float = 2.0, solver: str = "", limit: int = 2):  # type: ignore[no-untyped-def]
    return KINDS["reschedule"].request_for(
        VmRescheduling(vm_snapshot(), migration_limit=limit), budget_s, solver
    )


def mig_problem() -> GpuPartitionPlacement:
    busy = MigInstance("b0", "3g.20gb", 0, busy=True)
    gpus = (Gpu("g0", "A100-40GB", (busy,)), Gpu("g1", "A100-80GB"))
    requests = (
        MigRequest("r0", profile="2g.10gb", priority=1),
        MigRequest("r1", min_memory_gb=30.0),
        MigRequest("r2", profile="1g.10gb", tenant="a"),
    )
    return GpuPartitionPlacement(gpus, requests)


def models_problem() -> ModelPlacement:
    gpus = (GpuDevice("g0", 16.0), GpuDevice("g1", 16.0), GpuDevice("g2", 24.0))
    parts = (
        ModelPartition("bert/0", "bert", 1.4, 0.8),
        ModelPartition("bert/1", "bert", 1.4, 0.6),
        ModelPartition("llama/0", "llama", 12.0, 0.3, weight=2.0),
        ModelPartition("llama/1", "llama", 12.0, 0.9),
        ModelPartition("resnet/0", "resnet", 0.5, 0.1),
    )
    return ModelPlacement(gpus, parts)


def sizing_problem() -> BackendSizing:
    samples = tuple(40.0 + (7 * k) % 11 for k in range(40))
    return BackendSizing(
        (
            ModelSla("resnet", 120.0, samples, 200.0),
            ModelSla("bert", 30.0, tuple(2 * s for s in samples), 400.0, sl_min=0.95),
        )
    )


def frequency_problem() -> FrequencyControl:
    periods = tuple({"bert": (60.0 + 10 * t, 70.0)} if t % 4 else {} for t in range(8))
    trace = GpuClockTrace("g0", ClockRange(200, 1380), (PartitionSlo("bert", 200.0, 0.8),), periods)
    return FrequencyControl((trace,), MiadConfig(down_after=2))


def mig_request(budget_s: float = 2.0, solver: str = ""):  # type: ignore[no-untyped-def]
    return KINDS["place_gpu_partitions"].request_for(mig_problem(), budget_s, solver)


def models_request(budget_s: float = 2.0, solver: str = ""):  # type: ignore[no-untyped-def]
    return KINDS["place_models"].request_for(models_problem(), budget_s, solver)


def sizing_request(budget_s: float = 2.0, solver: str = ""):  # type: ignore[no-untyped-def]
    return KINDS["size_backends"].request_for(sizing_problem(), budget_s, solver)


def frequency_request(budget_s: float = 2.0, solver: str = ""):  # type: ignore[no-untyped-def]
    return KINDS["control_frequency"].request_for(frequency_problem(), budget_s, solver)
