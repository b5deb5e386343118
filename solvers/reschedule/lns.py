"""Large-neighbourhood search for rescheduling big clusters (anytime).

Start from a local search (greedy single moves, then pair moves; when
warm-started, the better of that and the given plan extended: :mod:`.start`).
Repeatedly pick a neighbourhood, a subset of the hosts of one cluster (the
cluster drawn with weight 1 + its fragment remainder R; hosts sampled with
weight 1 + the host's fragment remainder, so fragmented hosts are freed more
often), and re-solve where the VMs on those
hosts end with the exact class model of :mod:`.cpsat_model` restricted to
them, the rest of the current plan fixed; migrations are still counted
against the snapshot, so the limit holds for the whole plan. Keep the answer
when it lowers the fragment rate. The neighbourhood grows after a sub-problem
solved to optimality and shrinks after one that timed out.

At the end, the final placement is turned into moves from the snapshot and
sequenced (:mod:`.sequencing`); when that fails the starting plan is returned.

Bound: after the starting plan, :func:`.bound.remainder_bound` runs until
``BOUND_SHARE`` of the budget at most (the configuration and wrap bounds; the
LP bound of :mod:`.bound` too when its estimated time fits that share), and
stops early once it proves the starting plan; its value is reported as
``best_bound``. The plan of its configurations (:mod:`.config_plan`)
replaces the starting plan when better. The search stops once the incumbent
meets the bound, and a returned plan that meets it is OPTIMAL.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optsched import names
from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.problems.cluster import VmRescheduling
from optsched.registry import register
from optsched.results import Plan, SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.reschedule import cpsat_model as cpm
from optsched.solvers.reschedule.bound import RemainderBound, estimated_bound_s, remainder_bound
from optsched.solvers.reschedule.classes import Slot, VmClass, vm_classes
from optsched.solvers.reschedule.exact import CpsatArgs, bound_stats, solve_model
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.scope import unmodelled
from optsched.solvers.reschedule.sequencing import sequence
from optsched.solvers.reschedule.start import better as better_plan
from optsched.solvers.reschedule.start import configuration_state, starting_state
from optsched.solvers.reschedule.state import RescheduleState, unit_terms

INITIAL_HOSTS = 24  # neighbourhood size to start with
MIN_HOSTS, MAX_HOSTS = 8, 160
GROW, SHRINK = 1.5, 0.7
SUBSOLVE_S = 0.4  # time limit of one sub-problem (small models: presolve dominates)
START_SHARE = 0.8  # at most, for the starting plan (the incumbent); it stops by itself
SEQUENCING_SHARE = 0.1
# of the budget at most, for the lower bound (the configuration bound took
# 1.0-1.8 s on the large cluster before its pricing was batched, 0.3-0.5 s
# since: at a quarter of 5 s it had not converged on 2 of 7 instances at MNL
# 10 and 25)
BOUND_SHARE = 0.5


@dataclass(frozen=True)
class LnsArgs:
    cpsat: CpsatArgs = CpsatArgs()
    initial_hosts: int = INITIAL_HOSTS
    subsolve_s: float = SUBSOLVE_S


def _neighbourhood(cur: RescheduleState, size: int, rng: np.random.Generator) -> np.ndarray:
    """Half the hosts sampled by fragment remainder (VMs to move away), half
    by free CPU (room to receive them), all in one cluster."""
    cpu, mem = cur.unit_free()
    rem, eff = unit_terms(cpu, mem, cur.problem.fragment_cores, cur.problem.memory_per_core_mb)
    counted = cur.counted_units()
    # the cluster by its fragmentation potential (its share of R), not by its size
    potential = 1.0 + np.bincount(cur.host_cluster, weights=np.where(counted, rem, 0).sum(axis=1))
    cluster = int(rng.choice(len(potential), p=potential / potential.sum()))
    hosts = np.nonzero(cur.host_cluster == cluster)[0]
    picked: set[int] = set()
    for score in (np.where(counted, rem, 0).sum(axis=1), np.where(counted, eff, 0).sum(axis=1)):
        weight = 1.0 + score[hosts].astype(float)
        free_hosts = [h for h in hosts if int(h) not in picked]
        if not free_hosts:
            break
        w = np.array([weight[np.searchsorted(hosts, h)] for h in free_hosts])
        k = min(max(1, size // 2), len(free_hosts))
        picked.update(int(h) for h in rng.choice(free_hosts, size=k, replace=False, p=w / w.sum()))
    return np.array(sorted(picked), dtype=np.int64)


def assign(
    cur: RescheduleState,
    origin: RescheduleState,
    classes: list[VmClass],
    counts: Sequence[Mapping[Slot, int]],
) -> None:
    """Move class VMs in ``cur`` (bookkeeping only, no order) to the final
    counts, keeping every VM that may stay at its origin placement."""
    for cls, final in zip(classes, counts, strict=True):
        room = dict(final)
        rest: list[int] = []
        for v in cls.vms:
            slot = (int(origin.vm_host[v]), int(origin.vm_place[v]))
            if room.get(slot, 0) > 0:
                room[slot] -= 1
                _place(cur, v, slot)
            else:
                rest.append(v)
        targets = [slot for slot, n in sorted(room.items()) for _ in range(n)]
        for v, slot in zip(rest, targets, strict=True):
            _place(cur, v, slot)


def _place(cur: RescheduleState, vm: int, slot: Slot) -> None:
    if (int(cur.vm_host[vm]), int(cur.vm_place[vm])) != slot:
        cur.move(vm, slot[0], cur.placements[slot[1]], check=False)


def _moved(cur: RescheduleState, origin: RescheduleState) -> np.ndarray:
    return np.asarray((cur.vm_host != origin.vm_host) | (cur.vm_place != origin.vm_place))


def improve(
    cur: RescheduleState, origin: RescheduleState, hosts: np.ndarray, seconds: float, args: LnsArgs
) -> tuple[bool, bool]:
    """Re-solve the VMs on ``hosts``; (improved, proven optimal sub-problem)."""
    on = np.isin(cur.vm_host, hosts)
    classes = vm_classes(cur, np.nonzero(on)[0])
    if not classes:
        return False, True
    limit = cur.problem.migration_limit - int((_moved(cur, origin) & ~on).sum())
    cm = cpm.build(cur, classes, hosts, limit, origin=origin)
    if not cm.constant_free:
        cpm.set_ratio_objective(cm, cur.free_sum, cur.frag_sum)
    else:
        cpm.set_slot_objective(cm)
    cpm.hint(cm, cur)
    ans = solve_model(cm, seconds, args.cpsat)
    if ans.values is None or ans.frag is None or ans.free is None:
        return False, False
    before = cur.fragment_rate()
    trial = cur.copy()
    assign(trial, origin, classes, cm.counts(ans.values))
    if (
        trial.fragment_rate() < before - 1e-12
        and int(_moved(trial, origin).sum()) <= cur.problem.migration_limit
    ):
        for name in (
            "host_free",
            "numa_free",
            "vm_host",
            "vm_numa",
            "vm_place",
            "owners_in",
            "members_in",
            "frag_sum",
            "free_sum",
        ):
            setattr(cur, name, getattr(trial, name))
        return True, ans.status is Status.OPTIMAL
    return False, ans.status is Status.OPTIMAL


def lns_plan(
    problem: VmRescheduling,
    budget: Budget,
    args: LnsArgs,
    solver: str,
    warm: Plan | None = None,
) -> SolveResult:
    started = time.monotonic()
    if (why := unmodelled(problem)) is not None:
        return SolveResult(Status.INVALID_INPUT, solver, message=why)
    origin = RescheduleState.from_problem(problem)
    fr0 = origin.fragment_rate()
    hinted, source = starting_state(
        origin, problem.migration_limit, started + budget.seconds * START_SHARE, warm
    )
    rng = np.random.default_rng(args.cpsat.random_seed)
    size, rounds, wins = args.initial_hosts, 0, 0
    stop = budget.deadline - budget.seconds * SEQUENCING_SHARE
    lp = estimated_bound_s(origin) <= budget.seconds * BOUND_SHARE
    bound_until = min(stop, time.monotonic() + budget.seconds * BOUND_SHARE)
    lb = remainder_bound(
        origin, problem.migration_limit, bound_until, lp=lp, target_frag=hinted.frag_sum
    )
    planned = configuration_state(origin, lb, problem.migration_limit, bound_until, also=(hinted,))
    hinted, _ = better_plan((hinted, source), planned, "configuration")
    cur = hinted.copy()
    trace = [(time.monotonic() - started, cur.fragment_rate())]
    while time.monotonic() < stop - 0.05:
        if lb is not None and lb.proves(cur.frag_sum, cur.free_sum):
            break
        hosts = _neighbourhood(cur, size, rng)
        better, proven = improve(
            cur, origin, hosts, min(args.subsolve_s, stop - time.monotonic()), args
        )
        rounds += 1
        wins += int(better)
        size = int(np.clip(size * (GROW if proven else SHRINK), MIN_HOSTS, MAX_HOSTS))
        if better:
            trace.append((time.monotonic() - started, cur.fragment_rate()))
    return _finish(
        origin,
        hinted,
        cur,
        problem,
        solver,
        started,
        fr0,
        lb,
        rounds=rounds,
        improvements=wins,
        trace=trace,
    )


def _finish(
    origin: RescheduleState,
    hinted: RescheduleState,
    cur: RescheduleState,
    problem: VmRescheduling,
    solver: str,
    started: float,
    fr0: float,
    lb: RemainderBound | None,
    **stats: Any,
) -> SolveResult:
    if lb is not None:
        stats.update(best_bound=lb.rate, **bound_stats(lb))

    def status(st: RescheduleState) -> Status:
        proven = lb is not None and lb.proves(st.frag_sum, st.free_sum)
        return Status.OPTIMAL if proven else Status.FEASIBLE

    moved = np.nonzero(_moved(cur, origin))[0]
    moves = [(int(v), int(cur.vm_host[v]), cur.placements[int(cur.vm_place[v])]) for v in moved]
    done = origin.copy()
    seq = sequence(done, moves, problem.migration_limit)
    if seq.complete and done.fragment_rate() <= hinted.fragment_rate():
        return state_result(
            done,
            solver=solver,
            status=status(done),
            started=started,
            fr_before=fr0,
            message=seq.message,
            parked=seq.parked,
            **stats,
        )
    better = done if done.fragment_rate() < hinted.fragment_rate() else hinted
    return state_result(
        better,
        solver=solver,
        status=status(better),
        started=started,
        fr_before=fr0,
        message=seq.message or "LNS found nothing better than its starting plan",
        **stats,
    )


@register(names.LNS_RESCHEDULE, {ProblemKind.VM_RESCHEDULING})
class LnsRescheduler:
    """Local-search start, then CP-SAT on freed host subsets; anytime."""

    name = names.LNS_RESCHEDULE
    capabilities = Capabilities(
        kind=SolverKind.HEURISTIC,
        problem_kinds=frozenset({ProblemKind.VM_RESCHEDULING}),
        anytime=True,
        warm_start=True,
        deterministic=False,
    )

    def __init__(self, args: LnsArgs | None = None, **kw: object) -> None:
        self.args = args or LnsArgs(cpsat=CpsatArgs(**kw))  # type: ignore[arg-type]

    def solve(self, problem: VmRescheduling, budget: Budget) -> SolveResult:
        return lns_plan(problem, budget, self.args, self.name)

    def solve_from(self, problem: VmRescheduling, budget: Budget, hint: SolveResult) -> SolveResult:
        """Improves the better of the starting plan and ``hint``'s (extended)."""
        return lns_plan(problem, budget, self.args, self.name, hint.plan)
