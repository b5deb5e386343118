"""Greedy rescheduling: repeatedly make the single migration that lowers the
fragment rate most, until the migration limit, the deadline, or no move
improves it (the greedy baseline of the VMR2L paper).

Scoring one step, with ``R``/``T`` the fragment-rate numerator and
denominator (:mod:`.state`):

* interchangeable VMs are scored once: a *shape* is (cluster, request,
  split); a *source* is a shape on one placement. VMs under anti-affinity are
  scored one by one (their destinations differ);
* the move of source ``i`` to destination placement ``j`` gives
  ``FR = (R + a_i + b_j) / (T + c_i + d_j)``, with ``(a_i, c_i)`` the change
  at the units ``i`` frees and ``(b_j, d_j)`` the change at the units ``j``
  fills; source and destination deltas are independent because they touch
  different units (a destination overlapping its own source is skipped);
* ``b_j, d_j`` are computed once per shape, vectorized over every host;
  when ``d_j`` is the same for every destination (always, unless
  memory-aware), the best destination of every source is among the few
  lowest ``b_j`` (candidate pruning); otherwise the whole source x
  destination matrix is scored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optsched import names
from optsched.budget import Budget
from optsched.problems.base import ProblemKind
from optsched.problems.cluster import VmRescheduling
from optsched.registry import register
from optsched.results import SolveResult, Status
from optsched.solver import Capabilities, SolverKind
from optsched.solvers.reschedule.result import state_result
from optsched.solvers.reschedule.scope import unmodelled
from optsched.solvers.reschedule.state import RescheduleState, unit_terms

IMPROVEMENT_EPS = 1e-12  # a move must lower the FR by more than rounding
TOP_DESTINATIONS = 8  # > the placements a source can overlap on its own host (3 for K = 2)


@dataclass(frozen=True)
class _Candidate:
    fr: float
    vm: int
    host: int
    numa: tuple[int, ...]


def _terms(
    state: RescheduleState, cpu: np.ndarray, mem: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    p = state.problem
    return unit_terms(cpu, mem, p.fragment_cores, p.memory_per_core_mb)


def _unit_delta(
    state: RescheduleState, sign: int, share: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[H, K] change of (R, T) on every unit if ``share`` were added (sign
    -1) or removed (+1) there."""
    cpu, mem = state.unit_free()
    r0, t0 = _terms(state, cpu, mem)
    new_mem = None if mem is None else mem + sign * share[state.mem_col]
    r1, t1 = _terms(state, cpu + sign * share[state.cpu_col], new_mem)
    counted = state.counted_units()
    return np.where(counted, r1 - r0, 0), np.where(counted, t1 - t0, 0)


def destinations(
    state: RescheduleState, vm: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For ``vm``'s shape: (b [H, P], d [H, P], fits [H, P], numa_fits [H, P]);
    ``numa_fits`` ignores the host-level check, ``fits`` includes it."""
    width = 2 if state.vm_split[vm] else 1
    share = state.vm_req[vm] // width
    d_r, d_t = _unit_delta(state, -1, share)
    unit_fit = state.numa_valid & (state.numa_free >= share).all(axis=2)
    hosts = state.host_dest & (state.host_cluster == state.vm_cluster[vm])
    host_ok = (state.host_free >= state.vm_req[vm]).all(axis=1)
    shape = (state.n_hosts, len(state.placements))
    b, d = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    numa_fits = np.zeros(shape, bool)
    for p, ks in enumerate(state.placements):
        if len(ks) == width:
            cols = list(ks)
            b[:, p], d[:, p] = d_r[:, cols].sum(axis=1), d_t[:, cols].sum(axis=1)
            numa_fits[:, p] = hosts & unit_fit[:, cols].all(axis=1)
    return b, d, numa_fits & host_ok[:, None], numa_fits


def _source_deltas(state: RescheduleState, vm: int) -> tuple[np.ndarray, np.ndarray]:
    """[H, K] change of (R, T) on every unit if a VM of ``vm``'s shape left it."""
    h, numa = state.placement_of(vm)
    return _unit_delta(state, +1, state.usage(vm, numa))


def _per_placement(state: RescheduleState, unit: np.ndarray, width: int) -> np.ndarray:
    """[H, P] sum of a per-unit [H, K] array over each placement of ``width``."""
    out = np.zeros((state.n_hosts, len(state.placements)), dtype=unit.dtype)
    for p, ks in enumerate(state.placements):
        if len(ks) == width:
            out[:, p] = unit[:, list(ks)].sum(axis=1)
    return out


def sources(state: RescheduleState, vms: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``vms`` (one shape): one VM per distinct source placement, and
    the change of (R, T) at its units if it left them."""
    width = 2 if state.vm_split[vms[0]] else 1
    src_r, src_t = (_per_placement(state, x, width) for x in _source_deltas(state, vms[0]))
    n_p = len(state.placements)
    group = np.asarray(vms)
    _, first = np.unique(state.vm_host[group] * n_p + state.vm_place[group], return_index=True)
    src_vm = group[first]
    src_h, src_p = state.vm_host[src_vm], state.vm_place[src_vm]
    return src_vm, src_r[src_h, src_p], src_t[src_h, src_p]


def _best_for_shape(state: RescheduleState, vms: list[int]) -> _Candidate | None:
    """The best move of any VM in ``vms`` (one shape, no anti-affinity),
    scored for all sources at once."""
    b, d, fits, numa_fits = destinations(state, vms[0])
    if not numa_fits.any():
        return None
    src_vm, a, c = sources(state, vms)
    src_h, src_p = state.vm_host[src_vm], state.vm_place[src_vm]
    n_p = len(state.placements)
    flat = np.flatnonzero(fits)
    d_flat = d.ravel()[flat]
    if flat.size and (d_flat == d_flat[0]).all():  # best destinations are the lowest b
        flat = flat[np.argsort(b.ravel()[flat], kind="stable")[:TOP_DESTINATIONS]]
    # other hosts: [S, F]; the source's own host: [S, P] on NUMA nodes it does not use
    other = (flat[None, :] // n_p) != src_h[:, None]
    own = numa_fits[src_h] & ~placement_overlap(state)[src_p]
    cand_j = np.concatenate(
        [np.broadcast_to(flat, other.shape), src_h[:, None] * n_p + np.arange(n_p)], axis=1
    )
    ok = np.concatenate([other, own], axis=1)
    num = state.frag_sum + a[:, None] + b.ravel()[cand_j]
    den = state.free_sum + c[:, None] + d.ravel()[cand_j]
    fr = np.where(ok, np.where(den > 0, num / np.maximum(den, 1), 0.0), np.inf)
    k = int(np.argmin(fr))
    if not np.isfinite(fr.ravel()[k]):
        return None
    s_i, j = divmod(k, fr.shape[1])
    target = int(cand_j[s_i, j])
    vm = int(src_vm[s_i])
    return _Candidate(float(fr[s_i, j]), vm, target // n_p, state.placements[target % n_p])


def placement_overlap(state: RescheduleState) -> np.ndarray:
    """[P, P] bool: placements sharing a NUMA slot."""
    pl = state.placements
    return np.array([[bool(set(x) & set(y)) for y in pl] for x in pl], dtype=bool)


def _best_single(state: RescheduleState, vm: int) -> _Candidate | None:
    """The best move of one VM, scored against its exact target mask."""
    mask = state.target_mask(vm)
    if not mask.any():
        return None
    b, d, _, _ = destinations(state, vm)
    src_r, src_t = _source_deltas(state, vm)
    h, numa = state.placement_of(vm)
    a, c = int(src_r[h, list(numa)].sum()), int(src_t[h, list(numa)].sum())
    num, den = state.frag_sum + a + b, state.free_sum + c + d
    fr = np.where(mask, np.where(den > 0, num / np.maximum(den, 1), 0.0), np.inf)
    j = int(np.argmin(fr))
    n_p = len(state.placements)
    return _Candidate(float(fr.ravel()[j]), vm, j // n_p, state.placements[j % n_p])


def shapes(
    state: RescheduleState, vms: np.ndarray | None = None, *, affinity_apart: bool = True
) -> list[list[int]]:
    """Movable VMs (of ``vms``, default all) grouped by (cluster, request,
    split); with ``affinity_apart``, VMs under anti-affinity are singletons
    (their destinations differ)."""
    pool = np.nonzero(state.vm_movable)[0] if vms is None else vms[state.vm_movable[vms]]
    out: dict[object, list[int]] = {}
    for v in pool:
        v = int(v)
        key: object = (
            v
            if affinity_apart and state.vm_groups[v]
            else (int(state.vm_cluster[v]), state.vm_req[v].tobytes(), bool(state.vm_split[v]))
        )
        out.setdefault(key, []).append(v)
    return list(out.values())


def best_move(state: RescheduleState, groups: list[list[int]]) -> _Candidate | None:
    """The single feasible migration of a VM in ``groups`` (from :func:`shapes`)
    with the lowest resulting fragment rate, or None when there is none."""
    best: _Candidate | None = None
    for group in groups:
        cand = (
            _best_single(state, group[0])
            if state.vm_groups[group[0]]
            else _best_for_shape(state, group)
        )
        if cand is not None and (best is None or cand.fr < best.fr):
            best = cand
    return best


def greedy(
    state: RescheduleState,
    max_moves: int,
    deadline: float | None = None,
    vms: np.ndarray | None = None,
) -> int:
    """Apply improving best moves to ``state`` in place (at most
    ``max_moves``, until ``deadline`` on ``time.monotonic``); return how many."""
    done = 0
    groups = shapes(state, vms)
    while done < max_moves and (deadline is None or time.monotonic() < deadline):
        cand = best_move(state, groups)
        if cand is None or cand.fr >= state.fragment_rate() - IMPROVEMENT_EPS:
            break
        state.move(cand.vm, cand.host, cand.numa)
        done += 1
    return done


@register(names.GREEDY_RESCHEDULE, {ProblemKind.VM_RESCHEDULING})
class GreedyRescheduler:
    """Best single migration, repeatedly (see the module docstring)."""

    name = names.GREEDY_RESCHEDULE
    capabilities = Capabilities(
        kind=SolverKind.HEURISTIC,
        problem_kinds=frozenset({ProblemKind.VM_RESCHEDULING}),
        anytime=False,
        deterministic=True,
    )

    def solve(self, problem: VmRescheduling, budget: Budget) -> SolveResult:
        started = time.monotonic()
        if (why := unmodelled(problem)) is not None:
            return SolveResult(Status.INVALID_INPUT, self.name, message=why)
        state = RescheduleState.from_problem(problem)
        fr0 = state.fragment_rate()
        greedy(state, problem.migration_limit, budget.deadline)
        return state_result(
            state, solver=self.name, status=Status.FEASIBLE, started=started, fr_before=fr0
        )
