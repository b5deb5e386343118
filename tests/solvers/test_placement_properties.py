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
    """The best score over every final assignment the validator accepts."""
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
