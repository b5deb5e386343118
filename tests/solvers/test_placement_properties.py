"""Property tests on small random clusters: every answer validates, CP-SAT is
never worse than kube-default and first-fit, and its OPTIMAL and INFEASIBLE
claims agree with brute force over every final assignment (each checked by
the independent validator)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from placement_builders import CPSAT_TEST_OPTIONS, node, pod

from optsched.budget import Budget
from optsched.model import Assignment, Item, LabelSelector, Node, Snapshot, Taint, Toleration
from optsched.model.labels import AffinityTerm
from optsched.problems import PodPlacement
from optsched.registry import create
from optsched.results import SolveResult, Status, Unplaced
from optsched.solvers.placement.plan import order_plan
from optsched.solvers.placement.score import LexScore, evaluate
from optsched.solvers.placement.topology import build_topology
from optsched.validate import validate

SPREAD = AffinityTerm(LabelSelector({"app": "spread"}))


@st.composite
def clusters(draw: st.DrawFn, max_nodes: int = 3, max_items: int = 5) -> PodPlacement:
    n_nodes = draw(st.integers(1, max_nodes))
    nodes = []
    for i in range(n_nodes):
        tainted = draw(st.booleans()) and i > 0
        nodes.append(
            node(
                f"n{i}",
                cpu=draw(st.sampled_from([500, 1000])),
                mem=draw(st.sampled_from([500, 1000])),
                pods=draw(st.integers(1, 4)),
                taints=(Taint("dedicated", "x"),) if tainted else (),
            )
        )
    items: list[Item] = []
    where: dict[str, Assignment] = {}
    for j in range(draw(st.integers(1, max_items))):
        spread = draw(st.integers(0, 4)) == 0
        it = pod(
            f"p{j}",
            cpu=draw(st.sampled_from([100, 300, 500, 700])),
            mem=draw(st.sampled_from([100, 400, 600])),
            priority=draw(st.integers(0, 2)),
            owner=draw(st.sampled_from(["rs-a", "rs-b", ""])),
            movable=draw(st.booleans()),
            evictable=draw(st.booleans()),
            tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
            labels={"app": "spread"} if spread else {},
            anti_affinity=(SPREAD,) if spread else (),
        )
        items.append(it)
        host = draw(st.integers(-1, n_nodes - 1))
        if host >= 0 and _fits(
            nodes[host], it, [x for x in items if where.get(x.item_id) == Assignment(f"n{host}")]
        ):
            where[it.item_id] = Assignment(f"n{host}")
    budgets = {o: draw(st.integers(0, 2)) for o in ("rs-a", "rs-b") if draw(st.booleans())}
    snap = Snapshot(tuple(nodes), tuple(items), where, budgets)
    return PodPlacement(snap, packing=draw(st.sampled_from(["most_allocated", "least_allocated"])))


def _fits(host: Node, it: Item, present: list[Item]) -> bool:
    """Running items are generated consistent: within capacity, no spread
    pair on one node, and on a node whose taint they tolerate."""
    for r, cap in host.capacity.items():
        if sum(x.requests[r] for x in present) + it.requests[r] > cap:
            return False
    if host.taints and not it.tolerations:
        return False
    return not (it.anti_affinity and any(x.anti_affinity for x in present))


def _score(problem: PodPlacement, result: SolveResult) -> LexScore:
    assert result.plan is not None
    return evaluate(problem, result.plan.final_assignments(problem.snapshot))


def _validated(name: str, problem: PodPlacement) -> SolveResult:
    options = CPSAT_TEST_OPTIONS if name == "cpsat-placement" else {}
    result = create(name, **options).solve(problem, Budget(10))
    if result.status.has_solution:
        report = validate(problem, result)
        assert report.ok, f"{name}: {report.summary()}"
    return result


def _brute_force(problem: PodPlacement) -> LexScore | None:
    """The best score over every final assignment the validator accepts.

    An item that may not move ends where it runs or nowhere: the plan builder
    carries out a move it cannot order as an eviction and a placement, which
    the validator accepts step by step, but the final is then a move of an
    immovable item, outside the problem (and the score, which counts moves
    from the final assignment, would not see the eviction)."""
    snap = problem.snapshot
    topo = build_topology(problem)
    choices = [None, *(n.name for n in snap.nodes)]
    best: LexScore | None = None
    for combo in itertools.product(choices, repeat=len(snap.items)):
        final = {
            it.item_id: Assignment(n)
            for it, n in zip(snap.items, combo, strict=True)
            if n is not None
        }
        if any(
            it.item_id in snap.assignments
            and it.item_id in final
            and final[it.item_id] != snap.assignments[it.item_id]
            and not problem.may_move(it)
            for it in snap.items
        ):
            continue
        plan, _ = order_plan(topo, final)
        left = tuple(
            Unplaced(it.item_id, "brute force") for it in snap.items if it.item_id not in final
        )
        if not validate(
            problem, SolveResult(Status.FEASIBLE, "brute-force", plan=plan, unplaced=left)
        ).ok:
            continue
        score = evaluate(problem, final)
        if best is None or score.key() > best.key():
            best = score
    return best


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_nodes=4, max_items=8))
def test_cpsat_is_never_worse_than_the_baselines(problem: PodPlacement) -> None:
    cpsat = _validated("cpsat-placement", problem)
    if cpsat.status is Status.INFEASIBLE:
        return
    assert cpsat.status.has_solution
    for name in ("kube-default", "first-fit-decreasing", "best-fit-decreasing"):
        base = _validated(name, problem)
        if base.status.has_solution:  # heuristics refuse snapshots that break a rule already
            assert _score(problem, cpsat).key() >= _score(problem, base).key(), name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_nodes=2, max_items=4))
def test_optimal_and_infeasible_claims_agree_with_brute_force(problem: PodPlacement) -> None:
    cpsat = _validated("cpsat-placement", problem)
    best = _brute_force(problem)
    if cpsat.status is Status.INFEASIBLE:
        assert best is None
        return
    assert best is not None and cpsat.status.has_solution
    got = _score(problem, cpsat)
    assert got.key() <= best.key()
    if cpsat.status is Status.OPTIMAL:
        assert got.key() == best.key()


def _swap_case(p1_movable: bool, p1_evictable: bool) -> PodPlacement:
    """Two full nodes: p3 fits only if p1 and p2 trade nodes, a cycle of
    moves that no node can break by parking (found by the properties above)."""
    nodes = [node(f"n{i}", cpu=1000, mem=500, pods=2) for i in range(2)]
    spread = {"labels": {"app": "spread"}, "anti_affinity": (SPREAD,)}
    fixed = {"movable": False, "evictable": False, "owner": "rs-a"}
    items = [
        pod("p0", cpu=100, mem=100, **fixed, **spread),
        pod("p1", cpu=500, mem=400, owner="rs-a", movable=p1_movable, evictable=p1_evictable),
        pod("p2", cpu=700, mem=100, owner="rs-a", movable=True, evictable=False),
        pod("p3", cpu=100, mem=400, **fixed, **spread),
    ]
    where = {"p0": Assignment("n0"), "p1": Assignment("n1"), "p2": Assignment("n0")}
    return PodPlacement(Snapshot(tuple(nodes), tuple(items), where), packing="most_allocated")


def test_a_swap_no_plan_can_order_is_never_the_answer() -> None:
    # p1 and p2 may move but not be evicted: the swap would need an eviction
    problem = _swap_case(p1_movable=True, p1_evictable=False)
    cpsat = _validated("cpsat-placement", problem)
    best = _brute_force(problem)
    assert best is not None and cpsat.status.has_solution
    assert _score(problem, cpsat).key() == best.key() == ((3,), 0, 0, -2)
    assert cpsat.status is Status.OPTIMAL


def test_an_immovable_item_is_not_moved_by_eviction_and_placement() -> None:
    # p1 may be evicted but not moved: evicting it and placing it on n0 is a
    # move in disguise, which neither the solver nor the brute force counts
    problem = _swap_case(p1_movable=False, p1_evictable=True)
    cpsat = _validated("cpsat-placement", problem)
    best = _brute_force(problem)
    assert best is not None and cpsat.status.has_solution
    assert _score(problem, cpsat).key() == best.key()
    assert cpsat.status is Status.OPTIMAL
