"""The extender verbs over optsched's cluster view.

Feasibility of a pod on a node is decided by the independent validator
(:func:`optsched.validate.validate`) on a one-step plan "place the pod on
the node", so the extender agrees with every optsched answer. Prioritize
asks the portfolio where the pod should go (no moves, no evictions) and gives
that node the top score; the cross-node repacking plan (moves and
evictions) comes from the Placement RPC or ``optsched solve pods``.
"""

from __future__ import annotations

from typing import Any

from optsched.budget import Budget
from optsched.model import Assignment, Snapshot
from optsched.portfolio import Portfolio
from optsched.problems import PodPlacement
from optsched.results import Action, ActionKind, Plan, SolveResult, Status
from optsched.validate import validate

# The extender API's MaxExtenderPriority: scores are 0..10.
MAX_SCORE = 10
# Violations that evicting lower-priority pods can cure; the rest (selectors,
# taints, affinity, cordoned nodes) are unresolvable for preemption.
RESOLVABLE = frozenset({"capacity", "numa_capacity"})
IGNORED = frozenset({"unplaced_missing", "unplaced_spurious"})


def _signature(report: Any) -> set[tuple[str, str | None, str | None]]:
    return {(v.code, v.item_id, v.node) for v in report.violations if v.code not in IGNORED}


def violations(snapshot: Snapshot, pod_id: str, node: str, evict: list[str] = ()) -> list[Any]:  # type: ignore[assignment]
    """What stops ``pod_id`` landing on ``node`` after evicting ``evict``
    (violations already present in the snapshot are not counted)."""
    problem = PodPlacement(
        snapshot, allow_evictions=True, allow_moves=False, protected_namespaces=()
    )
    baseline = _signature(validate(problem, SolveResult(Status.FEASIBLE, "extender", plan=Plan())))
    actions = [Action(ActionKind.EVICT, v, snapshot.assignments[v], None) for v in evict]
    actions.append(Action(ActionKind.PLACE, pod_id, None, Assignment(node)))
    report = validate(problem, SolveResult(Status.FEASIBLE, "extender", plan=Plan(tuple(actions))))
    return [
        v
        for v in report.violations
        if v.code not in IGNORED and (v.code, v.item_id, v.node) not in baseline
    ]


def reason(found: list[Any]) -> str:
    return "; ".join(f"{v.code}: {v.message}" for v in found[:3])


def filter_nodes(
    snapshot: Snapshot, pod_id: str, nodes: list[str]
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(passing nodes, failed -> reason, unresolvable -> reason)."""
    ok, failed, unresolvable = [], {}, {}
    for n in nodes:
        found = violations(snapshot, pod_id, n)
        if not found:
            ok.append(n)
        elif all(v.code in RESOLVABLE for v in found):
            failed[n] = reason(found)
        else:
            unresolvable[n] = reason(found)
    return ok, failed, unresolvable


def _utilization(snapshot: Snapshot, pod_id: str, node: str) -> float:
    """Mean share of the pod's requested resources in use on ``node`` once it lands."""
    pod = snapshot.item(pod_id)
    cap = snapshot.node(node).capacity
    used = {r: pod.requests[r] for r in pod.requests}
    for it in snapshot.items_on(node):
        for r in used:
            used[r] += it.requests[r]
    shares = [min(1.0, used[r] / cap[r]) for r in used if cap[r] > 0]
    return sum(shares) / len(shares) if shares else 0.0


def choose(portfolio: Portfolio, snapshot: Snapshot, pod_id: str, budget_s: float) -> str | None:
    """The node the portfolio places the pod on (nothing else may change)."""
    problem = PodPlacement(snapshot, allow_evictions=False, allow_moves=False)
    result = portfolio.run(problem, Budget(budget_s))
    for a in result.plan.actions if result.plan else ():
        if a.item_id == pod_id and a.target is not None:
            return a.target.node
    return None


def prioritize(
    portfolio: Portfolio, snapshot: Snapshot, pod_id: str, nodes: list[str], budget_s: float
) -> list[dict[str, Any]]:
    """HostPriorityList: the solver's node scores MAX_SCORE; other feasible
    nodes 1..MAX_SCORE-1 by how full they end up (packing, as the solver's
    default most-allocated objective); infeasible nodes 0."""
    feasible, _, _ = filter_nodes(snapshot, pod_id, nodes)
    chosen = choose(portfolio, snapshot, pod_id, budget_s) if feasible else None
    out = []
    for n in nodes:
        if n == chosen:
            score = MAX_SCORE
        elif n in feasible:
            score = 1 + round((MAX_SCORE - 2) * _utilization(snapshot, pod_id, n))
        else:
            score = 0
        out.append({"Host": n, "Score": score})
    return out


def minimal_victims(
    snapshot: Snapshot, pod_id: str, node: str, victims: list[str]
) -> list[str] | None:
    """A subset of ``victims`` whose eviction lets the pod land on ``node``
    (dropping the highest-priority victims first while it still fits), or
    None when even all of them do not suffice."""
    if violations(snapshot, pod_id, node, victims):
        return None
    keep = list(victims)
    for v in sorted(victims, key=lambda i: -snapshot.item(i).priority):
        trial = [k for k in keep if k != v]
        if not violations(snapshot, pod_id, node, trial):
            keep = trial
    return keep
