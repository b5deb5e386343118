"""Checker for VM rescheduling answers (:class:`VmRescheduling`).

Checks (violation codes): only ``move`` actions (``action_kind``), each step
as in :mod:`optsched.validation._plan` (``source_mismatch``, ``capacity``,
``numa_capacity``, ``move_order``, ``numa_layout``, ``unschedulable``,
``excluded_host``, ``cluster``, ``node_selector``, ``taint``, ``immovable``,
``disruption_budget``, ``unknown_reference``, ...), at most
``migration_limit`` moves (``migration_limit``; an item may move more than
once, and each move counts), required ``affinity`` and ``anti_affinity`` of
the moved VMs in the final state, and an empty unplaced list
(``unplaced_missing``/``unplaced_spurious``). A result with no plan is valid
only when its status has no solution (``missing_plan``).

``report.objective`` is the final fragment rate (VMR2L, Guo et al.): over the
schedulable hosts, each NUMA node (or the host, when it has none) is a unit
with ``free = capacity - reserved - used`` of the problem's CPU resource;
the rate is ``sum(free mod fragment_cores) / sum(free)``, and 0 when nothing
is free. Overloaded units count as 0 free. With ``memory_aware`` a unit's
free CPU is capped at the cores its free ``memory_mb`` can serve at
``memory_per_core_mb``. ``report.metrics`` holds ``fragment_rate``,
``fragment_rate_initial`` and ``moves``.
"""

from __future__ import annotations

from optsched.model.cluster import Snapshot
from optsched.model.resources import CPU_MILLIS, MEMORY_MB
from optsched.problems.cluster import VmRescheduling
from optsched.results import ActionKind, SolveResult
from optsched.validation._affinity import FinalState, check_affinity
from optsched.validation._plan import PlanRules, check_unplaced, walk_plan
from optsched.validation._usage import Unit, Usage
from optsched.validation.report import ValidationReport

MILLIS_PER_CORE = 1000  # when the CPU resource is ``cpu_millis``, cores scale by this


def _unit_free(problem: VmRescheduling, usage: Usage, unit: Unit, scale: int) -> int:
    free = max(usage.free(unit, problem.cpu_resource), 0)
    if problem.memory_aware:
        mem_free = max(usage.free(unit, MEMORY_MB), 0)
        free = min(free, mem_free // problem.memory_per_core_mb * scale)
    return free


def fragment_rate(problem: VmRescheduling, usage: Usage) -> float:
    """The fragment rate of the state ``usage`` describes."""
    scale = MILLIS_PER_CORE if problem.cpu_resource == CPU_MILLIS else 1
    modulus = problem.fragment_cores * scale
    fragments = total = 0
    for node in problem.snapshot.nodes:
        if not node.schedulable:
            continue
        units: list[Unit] = [(node.name, k) for k in range(len(node.numa))] or [(node.name, None)]
        for unit in units:
            free = _unit_free(problem, usage, unit, scale)
            fragments += free % modulus
            total += free
    return fragments / total if total else 0.0


def _rules(problem: VmRescheduling) -> PlanRules:
    return PlanRules(
        allowed_kinds=frozenset({ActionKind.MOVE}),
        allow_moves=True,
        allow_evictions=False,
        move_limit=problem.migration_limit,
        move_limit_code="migration_limit",
        numa_required=True,
        excluded_hosts=problem.excluded_hosts,
        same_cluster=True,
    )


def _final_state(snapshot: Snapshot, node_of: dict[str, str]) -> FinalState:
    return FinalState(
        nodes={n.name: n for n in snapshot.nodes},
        items={it.item_id: it for it in snapshot.items},
        node_of=node_of,
    )


def validate_rescheduling(problem: VmRescheduling, result: SolveResult) -> ValidationReport:
    """Every violation of ``result`` against ``problem``, and its fragment rate."""
    report = ValidationReport()
    if result.plan is None:
        if result.status.has_solution:
            report.add("missing_plan", f"status {result.status} but no plan")
        return report
    snapshot = problem.snapshot
    out = walk_plan(snapshot, result.plan, _rules(problem), report)
    node_of = {iid: a.node for iid, a in out.where.items()}
    check_affinity(_final_state(snapshot, node_of), out.placed_at, report)
    check_unplaced(snapshot, out, result, report)
    rate = fragment_rate(problem, out.usage)
    report.objective = rate
    report.metrics = {
        "fragment_rate": rate,
        "fragment_rate_initial": fragment_rate(problem, Usage(snapshot)),
        "moves": out.moves,
    }
    return report
