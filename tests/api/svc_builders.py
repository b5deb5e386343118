"""Small request builders for the service tests."""

from __future__ import annotations

from optsched.api.convert_problems import KINDS
from optsched.model import Assignment, Item, Node, NumaNode, Snapshot
from optsched.problems import PodPlacement, VmPlacement, VmRescheduling


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
