"""Hand-built cases, one per constraint family, for every placement solver."""

from __future__ import annotations

import pytest
from placement_builders import final, node, pod, snapshot, solve, vm_host

from optsched.model import Item, LabelSelector, Taint, Toleration
from optsched.model.labels import ZONE_KEY, AffinityTerm
from optsched.problems import PodPlacement, VmPlacement
from optsched.results import ActionKind, Status

ALL = ["cpsat-placement", "kube-default", "first-fit-decreasing", "best-fit-decreasing"]


def test_a_pod_that_fits_only_after_a_move() -> None:
    # n0 runs a small movable pod; the big pending pod needs all of n0 or n1,
    # and n1 is half taken by a pod that may not move. Same priority: kube
    # cannot preempt, CP-SAT moves the small pod to n1.
    nodes = [node("n0"), node("n1")]
    items = [
        pod("small", cpu=400, owner="rs-small"),
        pod("fixed", cpu=500, movable=False, evictable=False),
        pod("big", cpu=1000),
    ]
    p = PodPlacement(snapshot(nodes, items, {"small": "n0", "fixed": "n1"}))
    kube = solve("kube-default", p)
    assert "big" not in final(p, kube)
    r = solve("cpsat-placement", p)
    assert r.status is Status.OPTIMAL
    assert final(p, r) == {"small": "n1", "fixed": "n1", "big": "n0"}
    kinds = [a.kind for a in r.plan.actions]  # type: ignore[union-attr]
    assert kinds == [ActionKind.MOVE, ActionKind.PLACE]
    assert r.stats["moves"] == 1 and r.stats["evictions"] == 0


@pytest.mark.parametrize("name", ALL)
def test_a_taint_blocks_and_a_toleration_admits(name: str) -> None:
    nodes = [node("gpu", extra={"gpu_count": 4}, taints=(Taint("gpu", "true"),)), node("cpu")]
    items = [
        pod("plain", extra={"gpu_count": 4}),
        pod("tolerant", extra={"gpu_count": 4}, tolerations=(Toleration("gpu", "Equal", "true"),)),
    ]
    p = PodPlacement(snapshot(nodes, items))
    r = solve(name, p)
    assert final(p, r) == {"tolerant": "gpu"}
    (why,) = r.unplaced
    assert why.item_id == "plain"
    assert "taint gpu=true:NoSchedule" in why.reason and "4 gpu_count" in why.reason


@pytest.mark.parametrize("name", ALL)
def test_node_selector(name: str) -> None:
    nodes = [node("hdd", labels={"disk": "hdd"}), node("ssd", labels={"disk": "ssd"})]
    items = [
        pod("db", node_selector={"disk": "ssd"}),
        pod("pinned", node_selector={"disk": "nvme"}),
    ]
    p = PodPlacement(snapshot(nodes, items))
    r = solve(name, p)
    assert final(p, r) == {"db": "ssd"}
    assert "nodeSelector disk=nvme" in r.unplaced[0].reason


def _replicas(k: int, **kw: object) -> list[Item]:
    spread = AffinityTerm(LabelSelector({"app": "web"}))
    return [
        pod(f"web-{i}", labels={"app": "web"}, anti_affinity=(spread,), owner="rs-web", **kw)
        for i in range(k)
    ]


@pytest.mark.parametrize("name", ALL)
def test_anti_affinity_spreads_replicas(name: str) -> None:
    p = PodPlacement(snapshot([node(f"n{i}") for i in range(3)], _replicas(4)))
    r = solve(name, p)
    placed = final(p, r)
    assert len(placed) == 3 and len(set(placed.values())) == 3
    assert "(anti-)affinity" in r.unplaced[0].reason


@pytest.mark.parametrize("name", ALL)
def test_affinity_follows_its_target_zone(name: str) -> None:
    nodes = [node(f"{z}{i}", labels={ZONE_KEY: z}) for z in ("a", "b") for i in range(2)]
    near_db = AffinityTerm(LabelSelector({"app": "db"}), topology_key=ZONE_KEY)
    items = [pod("db", labels={"app": "db"}), pod("cache", affinity=(near_db,))]
    p = PodPlacement(snapshot(nodes, items, {"db": "b1"}))
    r = solve(name, p)
    assert final(p, r)["cache"] in ("b0", "b1")


def test_a_disruption_budget_forbids_the_obvious_eviction() -> None:
    # Evicting the one low pod on n0 would make room; its owner's budget is 0,
    # so two low pods of another owner on n1 go instead.
    nodes = [node("n0"), node("n1")]
    items = [
        pod("guarded", cpu=600, priority=0, owner="rs-guarded"),
        pod("free-0", cpu=300, priority=0, owner="rs-free"),
        pod("free-1", cpu=300, priority=0, owner="rs-free"),
        pod("urgent", cpu=800, priority=100),
    ]
    where = {"guarded": "n0", "free-0": "n1", "free-1": "n1"}
    snap = snapshot(nodes, items, where, disruption_budgets={"rs-guarded": 0, "rs-free": 2})
    p = PodPlacement(snap, allow_moves=False)
    for name in ("cpsat-placement", "kube-default"):
        r = solve(name, p)
        placed = final(p, r)
        assert placed["urgent"] == "n1" and placed["guarded"] == "n0", name
        assert set(r.plan.evictions) == {"free-0", "free-1"}  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["cpsat-placement", "kube-default"])
def test_protected_namespace_is_never_disturbed(name: str) -> None:
    nodes = [node("n0")]
    items = [
        pod("dns", cpu=800, priority=0, namespace="kube-system"),
        pod("app", cpu=800, priority=1000),
    ]
    p = PodPlacement(snapshot(nodes, items, {"dns": "n0"}))
    r = solve(name, p)
    assert final(p, r) == {"dns": "n0"}


@pytest.mark.parametrize("name", ALL)
def test_pod_count_and_extended_resources(name: str) -> None:
    nodes = [node("n0", pods=2, extra={"example.com/fpga": 1})]
    items = [pod(f"p{i}", extra={"example.com/fpga": 1} if i == 0 else {}) for i in range(3)]
    items.append(pod("fpga-2", extra={"example.com/fpga": 1}))
    p = PodPlacement(snapshot(nodes, items))
    r = solve(name, p)
    placed = final(p, r)
    assert len(placed) == 2
    assert sum(1 for i in placed if i in ("p0", "fpga-2")) <= 1


@pytest.mark.parametrize("name", ALL)
def test_higher_priority_wins_the_room(name: str) -> None:
    p = PodPlacement(
        snapshot([node("n0")], [pod("low", cpu=800, priority=1), pod("high", cpu=800, priority=9)])
    )
    assert final(p, solve(name, p)) == {"high": "n0"}


def test_cpsat_beats_first_fit_on_packing_and_proves_it() -> None:
    # FFD takes the largest first and strands room; 2+2+1+1 into two nodes
    # of 3 needs the pairing (2,1),(2,1) and then the 3 fits nowhere, while
    # sizes are chosen so that the optimum places every pod.
    nodes = [node("n0", cpu=500), node("n1", cpu=500)]
    items = [pod("a", cpu=300), pod("b", cpu=200), pod("c", cpu=200), pod("d", cpu=300)]
    p = PodPlacement(snapshot(nodes, items))
    r = solve("cpsat-placement", p)
    assert r.status is Status.OPTIMAL and len(final(p, r)) == 4
    assert r.objective == 0 and r.best_bound == 0


def test_vm_fits_one_numa_node_or_splits_evenly() -> None:
    host = vm_host("h0", numa_cores=8)
    whole = Item("whole", {"cpu_cores": 8, "memory_mb": 100}, kind="vm")
    split = Item("split", {"cpu_cores": 8, "memory_mb": 100}, kind="vm", numa_split=True)
    too_big = Item("too-big", {"cpu_cores": 10, "memory_mb": 100}, kind="vm")
    p = VmPlacement(snapshot([host], [whole, too_big]))
    for name in ALL:
        r = solve(name, p)
        placed = r.plan.final_assignments(p.snapshot)  # type: ignore[union-attr]
        assert set(placed) == {"whole"} and len(placed["whole"].numa) == 1, name
    p2 = VmPlacement(
        snapshot([vm_host("h1", numa_cores=8)], [split, Item("x", {"cpu_cores": 4}, kind="vm")])
    )
    r = solve("cpsat-placement", p2)
    placed = r.plan.final_assignments(p2.snapshot)  # type: ignore[union-attr]
    assert placed["split"].numa == (0, 1) and len(placed) == 2


def test_infeasible_when_fixed_items_overflow() -> None:
    items = [
        pod("a", cpu=800, movable=False, evictable=False),
        pod("b", cpu=800, movable=False, evictable=False),
    ]
    from optsched.model import Assignment, Snapshot

    snap = Snapshot((node("n0"),), tuple(items), {"a": Assignment("n0"), "b": Assignment("n0")})
    from optsched.budget import Budget
    from optsched.registry import create

    r = create("cpsat-placement", num_workers=1, random_seed=1).solve(PodPlacement(snap), Budget(5))
    assert r.status is Status.INFEASIBLE and r.plan is None


def test_swap_cycle_gets_an_executable_order() -> None:
    # x (600) must leave n0 for n1 and y (600) n1 for n0 so that z fits; the
    # plan must park one of them (n2 has room) rather than overcommit.
    from optsched.model import Assignment
    from optsched.results import SolveResult
    from optsched.solvers.placement.plan import order_plan
    from optsched.solvers.placement.topology import build_topology
    from optsched.validate import validate

    nodes = [node("n0"), node("n1"), node("n2", cpu=700)]
    items = [pod("x", cpu=600), pod("y", cpu=600)]
    p = PodPlacement(snapshot(nodes, items, {"x": "n0", "y": "n1"}))
    plan, notes = order_plan(build_topology(p), {"x": Assignment("n1"), "y": Assignment("n0")})
    assert notes and "parked" in notes[0]
    assert plan.final_assignments(p.snapshot) == {"x": Assignment("n1"), "y": Assignment("n0")}
    report = validate(p, SolveResult(Status.FEASIBLE, "test", plan=plan))
    assert "move_order" not in report.codes(), report.summary()
