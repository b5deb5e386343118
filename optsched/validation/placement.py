"""Checker for pod and VM placement answers (:class:`PodPlacement`,
:class:`VmPlacement`).

Checks (violation codes): every plan step as in
:mod:`optsched.validation._plan` (``unknown_reference``, ``bad_action``,
``source_mismatch``, ``capacity``, ``numa_capacity``, ``move_order``,
``numa_layout``, ``unschedulable``, ``node_selector``, ``taint``,
``protected``, ``immovable``, ``non_evictable``, ``moves_disallowed``,
``evictions_disallowed``, ``max_moves``, ``disruption_budget``), required
``affinity`` and ``anti_affinity`` in the final state, and the list of
unplaced items (``unplaced_missing``, ``unplaced_spurious``). A result with no
plan is valid only when its status has no solution (``missing_plan``).
Protected namespaces forbid moving or evicting running items; a pending item
of a protected namespace may be placed. Disruption budgets count actions: an
item moved twice uses two units of its owner's budget.

The objective is recomputed from the answer alone. ``report.metrics``:

- ``placed_by_priority``: for each priority tier, the items placed at the end
  at that priority or above (cumulative from the top);
- ``placed``, ``unplaced``, ``evictions``, ``moves``;
- ``eviction_weight``: the sum over evictions of the evicted item's tier rank
  (1 for the lowest priority in the snapshot, 2 for the next, ...), so
  evicting higher priority costs more whatever the raw priority values;
- ``objective_key``: the problem's lexicographic objective as a tuple, lower
  is better: (items left unplaced per tier from the top..., eviction_weight,
  moves). Minimizing the unplaced counts tier by tier is the same order as
  maximizing the cumulative placed counts. Packing is a tie-break and not in
  the key.

``report.objective`` is ``objective_key`` read as one mixed-radix number
(each digit's base exceeds the largest value the digit takes when every item
is evicted and moved at most once), so comparing two answers' scalars compares their
keys; it is exact while below 2**53.
"""

from __future__ import annotations

from optsched.model.cluster import Snapshot
from optsched.problems.cluster import PodPlacement, VmPlacement
from optsched.results import ActionKind, SolveResult
from optsched.validation._affinity import FinalState, check_affinity
from optsched.validation._plan import Outcome, PlanRules, check_unplaced, walk_plan
from optsched.validation.report import ValidationReport

ALL_ACTIONS = frozenset(ActionKind)


def _rules(problem: PodPlacement) -> PlanRules:
    return PlanRules(
        allowed_kinds=ALL_ACTIONS,
        allow_moves=problem.allow_moves,
        allow_evictions=problem.allow_evictions,
        move_limit=problem.max_moves,
        move_limit_code="max_moves",
        protected_namespaces=tuple(problem.protected_namespaces),
        numa_required=isinstance(problem, VmPlacement),
    )


def _encode(digits: list[int], bases: list[int]) -> float:
    """Horner's rule: ``bases[j]`` is the base of ``digits[j]``."""
    value = 0
    for digit, base in zip(digits, bases, strict=True):
        value = value * base + digit
    return float(value)


def placement_metrics(snapshot: Snapshot, out: Outcome) -> tuple[dict[str, object], float]:
    """The metrics and scalar objective described in the module docstring."""
    tiers = sorted({it.priority for it in snapshot.items}, reverse=True)
    rank = {p: len(tiers) - i for i, p in enumerate(tiers)}
    by_tier = {p: [it for it in snapshot.items if it.priority == p] for p in tiers}
    unplaced = [sum(it.item_id not in out.where for it in by_tier[p]) for p in tiers]
    placed_cum, running = {}, 0
    for p, missing in zip(tiers, unplaced, strict=True):
        running += len(by_tier[p]) - missing
        placed_cum[p] = running
    priority = {it.item_id: it.priority for it in snapshot.items}
    weight = sum(rank[priority[iid]] for iid in out.evicted)
    max_weight = sum(rank[priority[iid]] for iid in snapshot.assignments)
    digits = [*unplaced, weight, out.moves]
    bases = [len(by_tier[p]) + 1 for p in tiers]
    bases += [max(max_weight, weight) + 1, max(len(snapshot.items), out.moves) + 1]
    objective = _encode(digits, bases)
    metrics: dict[str, object] = {
        "placed_by_priority": placed_cum,
        "placed": len(out.where),
        "unplaced": sum(unplaced),
        "evictions": len(out.evicted),
        "eviction_weight": weight,
        "moves": out.moves,
        "objective_key": tuple(digits),
    }
    return metrics, objective


def validate_placement(problem: PodPlacement, result: SolveResult) -> ValidationReport:
    """Every violation of ``result`` against ``problem``, and its objective."""
    report = ValidationReport()
    if result.plan is None:
        if result.status.has_solution:
            report.add("missing_plan", f"status {result.status} but no plan")
        return report
    snapshot = problem.snapshot
    out = walk_plan(snapshot, result.plan, _rules(problem), report)
    state = FinalState(
        nodes={n.name: n for n in snapshot.nodes},
        items={it.item_id: it for it in snapshot.items},
        node_of={iid: a.node for iid, a in out.where.items()},
    )
    check_affinity(state, out.placed_at, report)
    check_unplaced(snapshot, out, result, report)
    report.metrics, report.objective = placement_metrics(snapshot, out)
    return report
