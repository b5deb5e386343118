"""A lower bound on the fragment remainder from the migration budget, computed
outside the CP-SAT model (whose LP relaxation moves fractions of VMs and only
gives ``R >= 0``, see :mod:`.cpsat_model`). :func:`remainder_bound` returns
the largest of three: the configuration bound of :mod:`.config_bound`
(whole-host configurations tied by per-class balance; where it applies it
meets the optimum on every shipped and generated snapshot measured, in
0.1-0.3 s on medium and 0.3-0.5 s on large), the wrap bound of :mod:`.wrap_bound` (milliseconds) and the LP
bound below, which runs only where the configuration bound does not apply
or did not converge (it dominates the LP) and covers the cases neither
other one does: movable VMs on hosts that are not counted, split VMs on
hosts without NUMA layout.

Notation: ``F`` the fragment size, ``MNL`` the migration limit; a *host* is
counted when it is schedulable (its NUMA nodes, the units, count in the
fragment rate); ``free_k`` the free CPU of its NUMA node ``k`` (at most two
nodes; a host without NUMA layout is one unit); ``rem = sum_k free_k mod F``;
``R = sum_h rem_h`` over counted hosts, ``T`` the total free CPU of the
counted units, ``FR = R / T``. Only the default objective (not
``memory_aware``) is bounded; :func:`remainder_bound` returns None otherwise.

1. Touches. A migration takes one VM off its source host (a *leave*) and puts
   it on its destination host (an *arrival*), a split VM included (both its
   halves leave one host and land on one host), a move between the NUMA
   nodes of one host included (a leave and an arrival on the same host). With
   ``m_h`` the leaves plus arrivals at host ``h``, ``sum_h m_h = 2 * moves <=
   2 * MNL``.
2. Reachable states per host. A plan's final state of host ``h`` is its start
   less the VMs that left plus those that arrived. Doing the leaves first and
   the arrivals after, the free amounts rise then fall monotonically, so they
   stay in ``[0, cap_k]`` with ``cap_k`` the free CPU of node ``k`` when every
   movable VM on it is gone. So the final state is reachable in this graph
   with exactly ``m_h`` steps:
   * leaves: each movable VM on ``h`` at most once (a 0/1 knapsack over the
     host's VMs for the fewest leaves giving each rise, at most ``MNL``);
   * arrivals: any number of VMs of any movable shape of ``h``'s cluster, when
     ``h`` is a destination (single-NUMA on any node, split on both nodes of
     a two-node host; fewest arrivals per fall, at most ``MNL``). Arrival
     counts per shape are not limited by the VMs of that shape that leave
     elsewhere (relaxation).
   Memory, host-level capacity where it is tighter than the NUMA sums, and
   anti-affinity are ignored, and a VM may leave without any destination for
   it (relaxations: more reachable states, smaller minima). ``need_h(s)``
   is the fewest leaves plus arrivals reaching state ``s``; a real plan gives
   every host a state ``s_h`` with ``sum_h need_h(s_h) <= sum_h m_h <= 2 MNL``.
3. Conservation. A migration within a cluster between counted hosts keeps
   the cluster's free CPU over counted units: ``sum_{h in c} t_h = T_c``
   (``t = free_0 + free_1``). Cluster ``c`` gets no such row (weaker, still
   valid) when a movable VM breaks it: one of ``c`` on a host that is not
   counted (leaving it adds to no counted unit), one sitting on a host of
   another cluster than its own (both clusters), or a split VM with an odd
   request on a one-slot placement (it uses ``q`` there and ``2 * (q // 2)``
   on the two nodes it can move to).
   The problem ``min sum_h rem(s_h)`` over one state per counted host, subject
   to the budget and conservation rows, is a multiple-choice knapsack; every
   plan is feasible for it, so its LP relaxation (HiGHS) is a lower bound on
   every plan's ``R``. Per host only the states that are Pareto-optimal in
   (need, rem) for their total ``t`` are kept (the others are dominated: same
   contribution to the conservation row, no less budget, no less objective).
   Hosts alike (cluster, destination kind, free CPU, movable VMs' shares)
   share one set of columns with the group's size as right-hand side and
   upper bound (the same LP, fewer columns: 20k instead of 65k on large).
4. Rounding. The LP value is taken from HiGHS's duals by weak duality
   (``b'y + sum_j min(0, reduced_j) * ub_j``, ``y_ub <= 0``), which is a lower
   bound whatever the duals' accuracy, so no primal tolerance can push it
   above the LP optimum. ``R`` is an integer, so ``R >= ceil(LP)``. When
   ``T`` is the same for every plan (no movable VM starts on a host that is
   not counted, no odd split VM on one slot), ``rem = t - F * slots`` gives
   ``R = T0 - F * slots``, so ``R ≡ T0 (mod F)`` for every plan, and the bound
   rounds up to the next value with that residue (one residue for the total,
   since the budget is shared: no per-cluster rounding is claimed).
5. Fragment rate. ``FR = R / T >= R_lb / T_max``: ``T = T0`` when it is
   constant; otherwise VMs from hosts that are not counted only lower it and
   each odd split VM on one slot raises it by 1 when it moves, so ``T_max =
   T0 + min(MNL, number of those)``.

Validity is tested against brute force over every final placement with at
most ``MNL`` VMs displaced (a superset of the plans) on small generated
instances, and against every validated solver answer
(``tests/solvers/test_reschedule_bound.py``).

Cost and strength, measured (``optsched bench reschedule -- --sizes
medium,large --instances 1 --mnl 10,25,50 --budgets 1,5``: the shipped and
seed-0 generated instances, shared 2-core machine, two runs): medium (279
hosts) 0.3-1.3 s, large (1176 hosts) 0.6-2.2 s, about half the LP. Gap of
the best answer at 5 s to the bound, ``(FR - LB) / FR``: large 0.9 % (MNL
10), 3 % (25), 9 % (50); medium 12 %, 36-39 %, 74-75 %. Strong where the budget, not the
arrangement, limits the plan; weak on medium at MNL 50 (bound 0.036 on the
generated instance), where each host's state is chosen on its own (only the
touch budget and the free CPU per cluster tie them): the shapes that arrive
need not be the shapes that leave, and one touch can fix any host that some
shape fixes.
Tried and not kept: per-class
balance (hosts touched once as explicit one-leave / one-arrival columns per
VM class, ``|arrivals - leaves|`` per class at most the touches at hosts
touched twice or more, whose columns keep the reachable states): it raised
the LP by 0.2-3 % (medium seed 0, MNL 50: 47.2 -> 48.5 of R, the same
rounded bound) and doubled the time; a host touched twice (one leave, one
arrival) absorbs the imbalance that the one-touch hosts create. The
integer knapsack instead of its LP (HiGHS MIP over the same columns): on
medium (the shipped and two generated instances, MNL 10/25/50) it raised
the rounded bound on FR by 0-0.012 (0.7934 -> 0.7934 at MNL 10 where the
optimum is 0.8508) in 3-10 s: the relaxation, not the LP, is what is weak.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from optsched.solvers.reschedule.config_bound import ConfigBound, config_bound
from optsched.solvers.reschedule.state import RescheduleState
from optsched.solvers.reschedule.wrap_bound import wrap_remainder

INF = np.iinfo(np.int32).max // 4
Pair = tuple[int, int]  # CPU on NUMA node 0 and node 1
# Measured (the configuration bound, which converges where it applies, with
# its pricing batched: :mod:`.config_price`): medium (279 hosts) 0.11-0.27 s,
# large (1,176 hosts) 0.27-0.51 s, over the shipped snapshots and generated
# medium seeds 0-9 at MNL 10/25/50; the estimate (:func:`estimated_bound_s`:
# 0.31 s and 0.67 s) covers both with a margin.
BOUND_S_FIXED, BOUND_S_PER_HOST = 0.2, 4e-4


@dataclass(frozen=True)
class RemainderBound:
    """``frag``: a lower bound on ``R`` (an integer), the largest of the
    LP's, the wrap bound's (:mod:`.wrap_bound`) and the configuration
    bound's (:mod:`.config_bound`); ``rate``: on FR (``frag / free_max``);
    ``lp``: the LP bound before rounding (None when the LP was not run or
    not done in time); ``wrap`` and ``config``: those bounds on ``R`` (None
    where they do not apply); ``states``: LP columns (or configurations);
    ``conserved``: ``T`` is ``T0`` for every plan; ``free_max``: the largest
    ``T`` of any plan (``T0`` unless odd split VMs sit on one NUMA slot,
    docstring 5)."""

    frag: int
    rate: float
    lp: float | None
    states: int
    seconds: float
    conserved: bool
    free_max: int
    wrap: int | None = None
    config: int | None = None
    # the configuration bound's own result, for plans (:mod:`.config_plan`)
    configurations: ConfigBound | None = field(default=None, repr=False, compare=False)

    def proves(self, frag: int, free: int) -> bool:
        """Whether a plan with remainder ``frag`` and free CPU ``free`` meets
        the bound (is then optimal): ``frag / free <= frag_lb / free_max``."""
        if self.conserved:
            return frag <= self.frag
        if free <= 0:
            return True  # FR is 0 by definition
        return frag * self.free_max <= self.frag * free


def leave_table(
    cap: np.ndarray, free: np.ndarray, shares: list[np.ndarray], depth: int
) -> np.ndarray:
    """[cap_0 + 1, cap_1 + 1] fewest leaves (each VM at most once, at most
    ``depth``) taking the host from ``free`` to each state; INF where none.
    ``shares``: per movable VM on the host, its use per NUMA node ([2])."""
    table = np.full((int(cap[0]) + 1, int(cap[1]) + 1), INF, dtype=np.int64)
    table[int(free[0]), int(free[1])] = 0
    for s in shares:
        a, b = int(s[0]), int(s[1])
        if a == 0 and b == 0:
            continue
        src = table[: table.shape[0] - a, : table.shape[1] - b] + 1
        dst = table[a:, b:]
        np.minimum(dst, src, out=dst)
    table[table > depth] = INF
    return table


def arrival_table(shape: tuple[int, int], shapes: list[tuple[int, int]], depth: int) -> np.ndarray:
    """[shape] fewest arrivals (any number of each shape, at most ``depth``)
    lowering the free amounts by each (d_0, d_1); INF where none."""
    table = np.full(shape, INF, dtype=np.int64)
    table[0, 0] = 0
    useful = [(a, b) for a, b in set(shapes) if (a or b) and a < shape[0] and b < shape[1]]
    for step in range(1, depth + 1):
        new = table.copy()
        for a, b in useful:
            src = table[: shape[0] - a, : shape[1] - b]
            dst = new[a:, b:]
            np.minimum(dst, np.where(src == step - 1, step, INF), out=dst)
        if (new == table).all():
            break
        table = new
    return table


def host_needs(leaves: np.ndarray, arrivals: np.ndarray | None) -> np.ndarray:
    """Fewest leaves plus arrivals per final state: min over the state after
    the leaves ``a`` of ``leaves[a] + arrivals[a - final]``."""
    if arrivals is None:
        return leaves
    need = np.full(leaves.shape, INF, dtype=np.int64)
    for a0, a1 in zip(*np.nonzero(leaves < INF), strict=True):
        block = arrivals[a0::-1, a1::-1][: a0 + 1, : a1 + 1] + leaves[a0, a1]
        np.minimum(need[: a0 + 1, : a1 + 1], block, out=need[: a0 + 1, : a1 + 1])
    return need


def pareto_states(need: np.ndarray, f: int, budget: int) -> tuple[np.ndarray, ...]:
    """(t, rem, need) of the states Pareto-optimal in (need, rem) per total t."""
    f0, f1 = np.nonzero(need <= budget)
    m = need[f0, f1]
    t, rem = f0 + f1, f0 % f + f1 % f
    best = np.full((int(t.max()) + 1, 2 * f - 1), INF, dtype=np.int64)
    np.minimum.at(best, (t, rem), m)
    prefix = np.minimum.accumulate(best, axis=1)
    keep = best < np.concatenate([np.full((best.shape[0], 1), INF), prefix[:, :-1]], axis=1)
    tt, rr = np.nonzero(keep)
    return tt, rr, best[tt, rr]


def estimated_bound_s(state: RescheduleState) -> float:
    """A conservative estimate of :func:`remainder_bound`'s time (see
    ``BOUND_S_PER_HOST``)."""
    return BOUND_S_FIXED + BOUND_S_PER_HOST * state.n_hosts


def _add_shapes(
    shapes: dict[tuple[int, bool], set[tuple[int, int]]], c: int, req: int, split: bool
) -> None:
    """Where a VM of cluster ``c`` and CPU request ``req`` may land: per NUMA
    node on one-node hosts (``(c, False)``) and two-node hosts (``(c, True)``)."""
    two = shapes.setdefault((c, True), set())
    one = shapes.setdefault((c, False), set())
    if split:
        two.add((req // 2, req // 2))
    else:
        one.add((req, 0))
        two.update({(req, 0), (0, req)})


def remainder_bound(
    state: RescheduleState,
    migration_limit: int | None = None,
    deadline: float | None = None,
    *,
    lp: bool = True,
    target_frag: int | None = None,
) -> RemainderBound | None:
    """The largest of the configuration bound of :mod:`.config_bound`, the
    wrap bound of :mod:`.wrap_bound` (milliseconds) and, when ``lp`` and the
    configuration bound does not apply or did not converge, the LP bound of
    the module docstring (which the converged configuration bound dominates:
    its configurations are reachable states here, its class balance implies
    the conservation rows and its leaves are half the touches), for
    ``state``'s problem from ``state`` as the start; None when none applies
    (memory-aware objective). The configuration bound stops at ``deadline``
    (``time.monotonic()`` seconds; with its best bound so far) or once it
    proves ``target_frag`` (a plan's ``R``); the LP is dropped when not done
    by ``deadline``."""
    started = time.monotonic()
    prob = state.problem
    mnl = prob.migration_limit if migration_limit is None else migration_limit
    wrap = wrap_remainder(state, mnl)
    config = config_bound(state, mnl, deadline, target_frag)
    found = None
    converged = config is not None and config.converged
    if lp and not converged and not prob.memory_aware and state.numa_valid.shape[1] <= 2:
        found = _lp_bound(state, mnl, deadline, started)
    best = max(
        (b for b in (wrap, None if config is None else config.frag) if b is not None), default=None
    )
    if found is not None:
        frag = found.frag if best is None else max(found.frag, best)
        return replace(
            found,
            frag=frag,
            rate=frag / found.free_max if found.free_max > 0 else 0.0,
            wrap=wrap,
            config=None if config is None else config.frag,
            configurations=config,
            # where the configuration bound applies, T is constant (its conditions)
            conserved=found.conserved or config is not None,
            seconds=time.monotonic() - started,
        )
    if best is None:
        return None
    total = state.free_sum
    rate = best / total if total > 0 else 0.0
    return RemainderBound(
        best,
        rate,
        None,
        0 if config is None else config.columns,
        time.monotonic() - started,
        True,
        total,
        wrap,
        None if config is None else config.frag,
        config,
    )


def _lp_bound(
    state: RescheduleState, mnl: int, deadline: float | None, started: float
) -> RemainderBound | None:
    """The LP bound of the module docstring, or None when not done by ``deadline``."""
    prob = state.problem
    f = prob.fragment_cores
    cpu = state.numa_free[:, :, state.cpu_col]
    counted = state.host_counted
    n_clusters = int(max(state.host_cluster.max(), state.vm_cluster.max(initial=0))) + 1
    free = np.zeros((state.n_hosts, 2), dtype=np.int64)
    free[:, : cpu.shape[1]] = cpu
    cap = free.copy()
    usage: list[list[Pair]] = [[] for _ in range(state.n_hosts)]
    conserved = np.ones(n_clusters, dtype=bool)  # docstring, 3
    rise = 0  # docstring, 5: how far T can exceed T0
    shapes: dict[tuple[int, bool], set[tuple[int, int]]] = {}
    for v in np.nonzero(state.vm_movable)[0]:
        h, numa = state.placement_of(int(v))
        c, hc = int(state.vm_cluster[v]), int(state.host_cluster[h])
        req, split = int(state.vm_req[v, state.cpu_col]), bool(state.vm_split[v])
        _add_shapes(shapes, c, req, split)
        if c != hc:
            conserved[[c, hc]] = False
        if not counted[h]:
            conserved[c] = False
            continue
        use = np.zeros(2, dtype=np.int64)
        use[list(numa)] = int(state.usage(int(v), numa)[state.cpu_col])
        usage[h].append((int(use[0]), int(use[1])))
        cap[h] += use
        if split and len(numa) == 1 and req % 2:  # uses req here, 2 * (req // 2) elsewhere
            conserved[[c, hc]] = False
            rise += 1
    constant = not rise and all(counted[state.vm_host[v]] for v in np.nonzero(state.vm_movable)[0])
    dim = (int(cap[:, 0].max()) + 1, int(cap[:, 1].max()) + 1)
    arrivals: dict[tuple[int, bool], np.ndarray] = {}
    # hosts alike (cluster, destination kind, cap, free, movable shares) share columns
    groups: dict[tuple[int, tuple[int, bool] | None, Pair, Pair, tuple[Pair, ...]], int] = {}
    for host in np.nonzero(counted)[0]:
        h = int(host)
        key = None
        if state.host_dest[h]:
            key = (int(state.host_cluster[h]), bool(state.numa_valid[h].sum() == 2))
        sig = (
            int(state.host_cluster[h]),
            key,
            (int(cap[h, 0]), int(cap[h, 1])),
            (int(free[h, 0]), int(free[h, 1])),
            tuple(sorted(usage[h])),
        )
        groups[sig] = groups.get(sig, 0) + 1
    cols: list[tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray]] = []
    for (cluster, key, cap_h, free_h, use_h), n in groups.items():
        if deadline is not None and time.monotonic() > deadline:
            return None
        arr = None
        if key is not None:
            if key not in arrivals:
                arrivals[key] = arrival_table(dim, sorted(shapes.get(key, ())), mnl)
            arr = arrivals[key]
        leaves = leave_table(np.array(cap_h), np.array(free_h), [np.array(u) for u in use_h], mnl)
        t, r, m = pareto_states(host_needs(leaves, arr), f, 2 * mnl)
        cols.append((len(cols), cluster, n, t, r, m))
    t_c = np.bincount(
        state.host_cluster[counted], weights=free[counted].sum(axis=1), minlength=n_clusters
    )
    lp = _solve_lp(cols, conserved, t_c, 2 * mnl, deadline)
    if lp is None:
        return None
    total = state.free_sum
    frag = max(0, math.ceil(lp - 1e-6))
    if constant:
        frag += (total - frag) % f  # R ≡ T0 (mod F)
    free_max = total + min(rise, mnl)  # each of them raises T only when it moves
    rate = frag / free_max if free_max > 0 else 0.0
    states = sum(len(c[3]) for c in cols)
    return RemainderBound(frag, rate, lp, states, time.monotonic() - started, constant, free_max)


def _solve_lp(
    cols: list[tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray]],
    conserved: np.ndarray,
    t_c: np.ndarray,
    touches: int,
    deadline: float | None,
) -> float | None:
    """A lower bound on the LP relaxation of the multiple-choice knapsack
    (docstring, 3 and 4): ``cols`` per group of alike hosts (index, cluster,
    hosts, and per state t, rem, need); None when HiGHS did not finish."""
    group = np.concatenate([np.full(len(t), g) for g, _, _, t, _, _ in cols])
    size = np.concatenate([np.full(len(t), n) for _, _, n, t, _, _ in cols]).astype(float)
    cluster = np.concatenate([np.full(len(t), c) for _, c, _, t, _, _ in cols])
    t = np.concatenate([c[3] for c in cols]).astype(float)
    rem = np.concatenate([c[4] for c in cols]).astype(float)
    need = np.concatenate([c[5] for c in cols]).astype(float)
    n, n_groups = len(t), len(cols)
    rows_c = np.nonzero(conserved[: len(t_c)])[0]
    rows_c = rows_c[np.isin(rows_c, cluster)]
    row_of_cluster = np.full(len(conserved), -1, dtype=np.int64)
    row_of_cluster[rows_c] = n_groups + np.arange(len(rows_c))
    on = row_of_cluster[cluster] >= 0
    idx = np.arange(n)
    a_eq = sp.csr_matrix(
        (
            np.concatenate([np.ones(n), t[on]]),
            (np.concatenate([group, row_of_cluster[cluster[on]]]), np.concatenate([idx, idx[on]])),
        ),
        shape=(n_groups + len(rows_c), n),
    )
    b_eq = np.concatenate([[float(c[2]) for c in cols], t_c[rows_c]])
    a_ub = sp.csr_matrix(need[None, :])
    b_ub = np.array([float(touches)])
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        return None
    res = linprog(
        rem,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.stack([np.zeros(n), size], axis=1),
        method="highs",
        options={} if left is None else {"time_limit": max(0.01, left)},
    )
    if res.status != 0:
        return None
    # weak duality with any duals (y_ub <= 0) and 0 <= x <= size: exact
    # arithmetic would give the LP optimum; in floating point this is a bound
    # that does not rely on HiGHS's primal tolerances
    y_eq = np.asarray(res.eqlin.marginals, dtype=float)
    y_ub = np.minimum(np.asarray(res.ineqlin.marginals, dtype=float), 0.0)
    reduced = rem - a_eq.T @ y_eq - a_ub.T @ y_ub
    return float(b_eq @ y_eq + b_ub @ y_ub + (np.minimum(reduced, 0.0) * size).sum())
