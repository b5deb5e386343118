"""A lower bound on the fragment remainder from whole-host configurations
tied together by per-class balance: the Dantzig-Wolfe relaxation of the
rescheduling problem, bounded by Lagrangian pricing and solved by column
generation. Where it applies it is the tightest bound here by far: on the
medium and large snapshots measured, its rounded value *is* the optimum
(see "Measured").

Notation as in :mod:`.bound`: ``F`` the fragment size, ``MNL`` the migration
limit, units the NUMA nodes of hosts (one unit on a host without NUMA
layout), ``Q = sum floor(free_u / F)`` over the units of counted hosts: the
whole fragments. When ``T`` is the same for every plan (conditions below),
``R = T - F * Q``, so an upper bound on ``Q`` is a lower bound on ``R``.

Relaxation. A VM *class* is (cluster, width, CPU share per unit): width 2
for a split VM on two NUMA nodes, 1 otherwise. A *configuration* of host
``h`` is a subset of its movable VMs that leave, and a multiset of VMs of
classes of ``h``'s cluster that arrive (only on a destination; width 1 on
any unit, width 2 on both units of a two-unit host), with every unit's
final free CPU ``free_u + left_u - arrived_u >= 0``; it gives
``slots = sum_u floor(final_u / F)`` when ``h`` is counted. Choose one
configuration per host with at most ``MNL`` leaves in all and, per class,
as many arrivals as leaves: every plan does (a VM that ends elsewhere than
it started leaves its host and arrives at another, or at another unit of
the same host; a plan moves at most ``MNL`` VMs), so the most slots of any
such choice bounds ``Q``. Memory, host-level capacity, anti-affinity and
how many VMs of a class exist are ignored (relaxations).

Lagrangian bound. For any ``pi >= 0`` (the migration limit's price) and any
``mu`` (per class, the price of an arrival and the refund of a leave),

    ``Q <= pi * MNL + sum_h max_c [slots(c) - pi * leaves(c)
                                    - mu . (arrivals(c) - leaves(c))]``

(weak duality), whatever ``pi`` and ``mu`` are, as long as each host's
maximum is exact. The per-host maximum is an exact dynamic programme:

* leaves: a 0/1 knapsack over the host's movable VMs on the CPU they free
  per unit (at most two units, so a table over ``(left_0, left_1)``), each
  VM worth ``mu[class] - pi``;
* arrivals: unbounded knapsacks per cluster over the CPU they take, width-1
  classes per unit and width-2 classes on both units, each arrival worth
  ``-mu[class]``;
* per unit, ``max_x floor((y - x) / F) + G1(x)`` over the width-1 arrivals
  ``x`` it takes of the ``y`` free after the leaves and width-2 arrivals;
  then the best ``(left_0, left_1, width-2 arrivals)``.

Hosts alike (units' free CPU, movable VMs, cluster, destination, counted)
are priced once. The prices come from the restricted master LP over the
configurations found so far (HiGHS; any prices give a valid bound, so the
LP's accuracy only affects how fast it converges). Column generation stops
when no configuration prices out (the LP optimum is the Dantzig-Wolfe
bound), when the rounded bound cannot improve (``floor`` of the best
Lagrangian value equals ``floor`` of the master's, a lower bound on the
relaxation's optimum), when it proves a given target, or at the deadline;
the best bound so far is kept. ``Q`` is an integer: ``Q <= floor(L)``.

Applies when, as for the wrap bound (:mod:`.wrap_bound`), the objective is
not memory-aware, hosts have at most two NUMA nodes, every movable VM starts
on a counted host (so ``T`` is constant), and no movable split VM sits on a
host without NUMA layout (its share there differs from the one it would
take on two units).

The configurations found are kept (:class:`Master`): the integer master
over them gives plans as well (:mod:`.config_plan`).

Measured (``optsched bench reschedule`` prints the bound of every instance
and its time; the exact solver reports it as ``bound_config``): on the shipped
medium snapshot at MNL 10/25/50 the bound is 13/24/37 slots, FR 0.8508 /
0.7245 / 0.5753, each the proven optimum, in 0.8-1.4 s (8-13 rounds, about
2,000 configurations); on generated medium instances (seeds 0-3) it meets
the optimum wherever that is known (FR 0.4490 at MNL 10 on seed 0, 0.4261 at
MNL 25 and 50) in 0.4-0.8 s; on the shipped large snapshot at MNL 10/25/50
it is 0.5917 / 0.5815 / 0.5713 in 1.0-1.8 s, which the local search's plans
meet (so they are optimal). Against brute force on 4,000 small generated
instances (2,110 where it applies): never above the optimum, equal to it on
2,024.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from optsched.solvers.reschedule.state import RescheduleState
from optsched.solvers.reschedule.wrap_bound import applies as wrap_applies

NEG = -1e18  # an impossible (unreachable) value in the knapsack tables
EPS = 1e-6  # rounding slack: only ever weakens the bound (floor(L + EPS))
PRICE_TOL = 1e-9  # a configuration enters the master when it gains more
MAX_ROUNDS = 200

ClassKey = tuple[int, int, int]  # (cluster, width, CPU share per unit)


@dataclass(frozen=True)
class HostType:
    """Hosts alike: ``free`` per unit, the movable VMs as (class, CPU freed
    on unit 0, on unit 1), and the flags that decide arrivals and slots."""

    free: tuple[int, ...]
    vms: tuple[tuple[int, int, int], ...]
    cluster: int
    dest: bool
    counted: bool


@dataclass(frozen=True)
class Column:
    """A configuration of a host type: its slots, leaves and net arrivals
    (arrivals - leaves) per class, which of the type's VMs leave (positions
    in :attr:`HostType.vms`) and what arrives where (class, NUMA slots)."""

    type: int
    slots: int
    leaves: np.ndarray
    net: np.ndarray
    leave_at: tuple[int, ...]
    arrive: tuple[tuple[int, tuple[int, ...]], ...]


@dataclass
class Master:
    """What the integer master (:mod:`.config_plan`) needs: the host types,
    the hosts of each and their movable VMs in the order of
    :attr:`HostType.vms`, the classes, and the configurations found."""

    types: list[HostType]
    hosts: list[list[int]]
    vms: dict[int, list[int]]
    classes: list[ClassKey]
    columns: list[Column]


@dataclass
class ConfigBound:
    """``slots``: an upper bound on ``Q`` (whole fragments over counted
    units); ``frag``: the bound on ``R`` it gives (``T0 - F * slots``, at
    least ``T0 mod F``); ``converged``: column generation ended with no
    configuration pricing out, or the rounded bound at the master's."""

    slots: int
    frag: int
    rounds: int
    converged: bool
    seconds: float
    master: Master
    lp: float = float("nan")  # the last master LP value

    @property
    def columns(self) -> int:
        return len(self.master.columns)


def applies(state: RescheduleState) -> bool:
    """Whether the bound is valid for ``state``'s problem: the wrap bound's
    conditions (:func:`.wrap_bound.applies`) and at most two NUMA nodes."""
    return state.numa_valid.shape[1] <= 2 and wrap_applies(state)


def host_master(state: RescheduleState) -> Master:
    """Distinct host types with their hosts, the VM classes, and for each
    type the configuration in which nothing moves (it keeps every master
    feasible)."""
    cpu = state.cpu_col
    classes: dict[ClassKey, int] = {}
    per_host: list[list[tuple[int, int, int, int]]] = [[] for _ in range(state.n_hosts)]
    vms = np.nonzero(state.vm_movable)[0]
    numa = state.vm_numa[vms]
    width = (numa >= 0).sum(axis=1)
    share = state.vm_req[vms, cpu] // width  # RescheduleState.usage, vectorized
    on0, on1 = (numa == 0).any(axis=1), (numa == 1).any(axis=1)
    for v, h, cl, w, s, a0, a1 in zip(
        vms.tolist(),
        state.vm_host[vms].tolist(),
        state.vm_cluster[vms].tolist(),
        width.tolist(),
        share.tolist(),
        on0.tolist(),
        on1.tolist(),
        strict=True,
    ):
        c = classes.setdefault((cl, w, s), len(classes))
        per_host[h].append((c, s if a0 else 0, s if a1 else 0, v))
    index: dict[HostType, int] = {}
    master = Master([], [], {}, sorted(classes, key=classes.__getitem__), [])
    units_of = state.numa_valid.sum(axis=1).tolist()
    free = state.numa_free[:, :, cpu].tolist()
    cluster, dest, counted = (
        state.host_cluster.tolist(),
        state.host_dest.tolist(),
        state.host_counted.tolist(),
    )
    for h in range(state.n_hosts):
        own = sorted(per_host[h])
        t = HostType(
            free=tuple(free[h][: units_of[h]]),
            vms=tuple((c, d0, d1) for c, d0, d1, _ in own),
            cluster=cluster[h],
            dest=dest[h],
            counted=counted[h],
        )
        if t not in index:
            index[t] = len(master.types)
            master.types.append(t)
            master.hosts.append([])
        master.hosts[index[t]].append(h)
        master.vms[h] = [v for *_, v in own]
    f = state.problem.fragment_cores
    none = np.zeros(len(master.classes))
    for i, t in enumerate(master.types):
        slots = sum(x // f for x in t.free) if t.counted else 0
        master.columns.append(Column(i, slots, none, none, (), ()))
    return master


@dataclass
class _Arrivals:
    """Per cluster, for the current prices: ``g1[x]`` the best worth of
    width-1 arrivals taking exactly ``x`` CPU on a unit (``arg1`` the last
    class), ``g2[z]`` of width-2 arrivals taking ``z`` on each unit, and per
    unit ``u[y]`` = max over ``x <= y`` of ``floor((y - x) / F) + g1[x]``."""

    g1: np.ndarray
    arg1: np.ndarray
    g2: np.ndarray
    arg2: np.ndarray
    u: np.ndarray
    ux: np.ndarray


def _knapsack(items: list[tuple[int, int]], worth: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Unbounded knapsack: the best total worth of items (class, CPU) taking
    exactly ``x`` CPU, for every ``x < size``; and the last item's class."""
    g = np.full(size, NEG)
    g[0] = 0.0
    arg = np.full(size, -1, dtype=np.int64)
    for x in range(1, size):
        for c, s in items:
            if s <= x and g[x - s] > NEG / 2 and g[x - s] + worth[c] > g[x]:
                g[x], arg[x] = g[x - s] + worth[c], c
    return g, arg


def _arrivals(
    classes: list[ClassKey], cluster: int, mu: np.ndarray, size: int, f: int, counted: bool
) -> _Arrivals:
    worth = -mu
    w1 = [(c, s) for c, (cl, w, s) in enumerate(classes) if cl == cluster and w == 1 and s > 0]
    w2 = [(c, s) for c, (cl, w, s) in enumerate(classes) if cl == cluster and w == 2 and s > 0]
    g1, arg1 = _knapsack(w1, worth, size)
    g2, arg2 = _knapsack(w2, worth, size)
    y = np.arange(size)
    gain = (y[:, None] - y[None, :]) // f if counted else np.zeros((size, size), dtype=np.int64)
    table = np.where(y[None, :] <= y[:, None], gain + g1[None, :], NEG)
    ux = table.argmax(axis=1)
    return _Arrivals(g1, arg1, g2, arg2, table[y, ux], ux)


def _no_arrivals(size: int, f: int, counted: bool) -> _Arrivals:
    g = np.full(size, NEG)
    g[0] = 0.0
    none = np.full(size, -1, dtype=np.int64)
    y = np.arange(size)
    u = (y // f).astype(float) if counted else np.zeros(size)
    return _Arrivals(g, none, g.copy(), none.copy(), u, np.zeros(size, dtype=np.int64))


def _leave_states(
    t: HostType, mu: np.ndarray, pi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """0/1 knapsack over the host type's movable VMs on the CPU they free per
    unit, each leaving VM worth ``mu[class] - pi``: the reachable states
    ``(l0, l1)``, their best worth, and per VM the table of whether it leaves
    in the best set for each state (for :func:`_leaving`)."""
    two = len(t.free) == 2
    shape = (sum(v[1] for v in t.vms) + 1, sum(v[2] for v in t.vms) + 1 if two else 1)
    best = np.full(shape, NEG)
    best[0, 0] = 0.0
    took = []
    for c, d0, d1 in t.vms:
        cand = np.full(shape, NEG)
        cand[d0:, d1:] = best[: shape[0] - d0, : shape[1] - d1] + (mu[c] - pi)
        take = cand > best
        best = np.where(take, cand, best)
        took.append(take)
    l0, l1 = np.nonzero(best > NEG / 2)
    return l0, l1, best[l0, l1], took


def _leaving(t: HostType, took: list[np.ndarray], l0: int, l1: int) -> tuple[int, ...]:
    """The VMs (positions) of the best set freeing ``(l0, l1)``."""
    out = []
    for j in range(len(t.vms) - 1, -1, -1):
        if took[j][l0, l1]:
            out.append(j)
            l0 -= t.vms[j][1]
            l1 -= t.vms[j][2]
    return tuple(sorted(out))


def _price(
    i: int, t: HostType, arr: _Arrivals, mu: np.ndarray, pi: float, f: int, classes: list[ClassKey]
) -> tuple[float, Column]:
    """Host type ``i``'s best configuration at prices ``(pi, mu)`` and its
    Lagrangian worth: the best leave state, width-2 arrivals ``z`` per unit
    and then each unit's best width-1 arrivals (:class:`_Arrivals`)."""
    l0, l1, worth_left, took = _leave_states(t, mu, pi)
    size = len(arr.u)
    if len(t.free) == 2:
        cap = min(t.free[0] + int(l0.max()), t.free[1] + int(l1.max()))
        zs = np.nonzero(arr.g2[: cap + 1] > NEG / 2)[0]
        y0 = t.free[0] + l0[None, :] - zs[:, None]
        y1 = t.free[1] + l1[None, :] - zs[:, None]
        ok = (y0 >= 0) & (y1 >= 0)
        total = np.where(
            ok,
            worth_left[None, :]
            + arr.u[np.clip(y0, 0, size - 1)]
            + arr.u[np.clip(y1, 0, size - 1)]
            + arr.g2[zs][:, None],
            NEG,
        )
        zi, e = (int(x) for x in np.unravel_index(int(total.argmax()), total.shape))
        worth, z = float(total[zi, e]), int(zs[zi])
    else:
        total = worth_left + arr.u[t.free[0] + l0]
        e, z = int(total.argmax()), 0
        worth = float(total[e])
    leave_at = _leaving(t, took, int(l0[e]), int(l1[e]))
    leaves = np.zeros(len(classes))
    for j in leave_at:
        leaves[t.vms[j][0]] += 1
    arrive: list[tuple[int, tuple[int, ...]]] = [(c, (0, 1)) for c in _unwind(arr.arg2, z, classes)]
    slots = 0
    for k, out in enumerate((int(l0[e]), int(l1[e]))[: len(t.free)]):
        y = t.free[k] + out - z
        x = int(arr.ux[y])
        arrive += [(c, (k,)) for c in _unwind(arr.arg1, x, classes)]
        slots += (y - x) // f if t.counted else 0
    arrivals = np.zeros(len(classes))
    for c, _ in arrive:
        arrivals[c] += 1
    return worth, Column(i, slots, leaves, arrivals - leaves, leave_at, tuple(arrive))


def _unwind(arg: np.ndarray, x: int, classes: list[ClassKey]) -> list[int]:
    """The classes of the arrivals of a knapsack position ``x``."""
    out = []
    while x > 0:
        c = int(arg[x])
        out.append(c)
        x -= classes[c][2]
    return out


def config_bound(
    state: RescheduleState,
    migration_limit: int,
    deadline: float | None = None,
    target_frag: int | None = None,
) -> ConfigBound | None:
    """The bound of the module docstring for ``state`` as the start, or None
    where it does not apply. ``deadline`` (``time.monotonic()`` seconds)
    ends the column generation early with the best bound so far (valid,
    maybe weaker); so does reaching ``target_frag`` (a plan's ``R`` that the
    bound then proves optimal)."""
    if not applies(state):
        return None
    started = time.monotonic()
    f = state.problem.fragment_cores
    master = host_master(state)
    types, classes = master.types, master.classes
    counts = [len(hosts) for hosts in master.hosts]
    n_classes = len(classes)
    size = 1 + max(
        t.free[k] + sum(v[1 + k] for v in t.vms) for t in types for k in range(len(t.free))
    )
    total = state.free_sum
    target_slots = None if target_frag is None else (total - target_frag) // f
    pi, mu, sigma = 0.0, np.zeros(n_classes), None
    bound, lp, rounds, converged = np.inf, float("nan"), 0, False
    while rounds < MAX_ROUNDS:
        rounds += 1
        arrivals: dict[tuple[int, bool, bool], _Arrivals] = {}
        lagrangian = pi * migration_limit
        added = 0
        for i, t in enumerate(types):
            key = (t.cluster, t.dest, t.counted)
            if key not in arrivals:
                arrivals[key] = (
                    _arrivals(classes, t.cluster, mu, size, f, t.counted)
                    if t.dest
                    else _no_arrivals(size, f, t.counted)
                )
            worth, column = _price(i, t, arrivals[key], mu, pi, f, classes)
            lagrangian += counts[i] * worth
            if sigma is None or worth > sigma[i] + PRICE_TOL:
                master.columns.append(column)
                added += 1
        bound = min(bound, lagrangian)
        rounded = int(np.floor(bound + EPS))
        if added == 0:
            converged = True
            break
        if target_slots is not None and rounded <= target_slots:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        solved = _master_lp(master.columns, counts, n_classes, migration_limit)
        if solved is None:
            break
        lp, pi, mu, sigma = solved
        if int(np.floor(lp + EPS)) >= rounded:
            converged = True
            break
    rounded = int(np.floor(bound + EPS))
    frag = max(total - f * rounded, total % f if f > 0 else 0)
    return ConfigBound(
        slots=rounded,
        frag=frag,
        rounds=rounds,
        converged=converged,
        seconds=time.monotonic() - started,
        master=master,
        lp=lp,
    )


def master_rows(
    columns: list[Column], counts: list[int], n_classes: int, migration_limit: int
) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray]:
    """The master's rows: one configuration per host (``counts`` hosts per
    type), arrivals = leaves per class, at most ``MNL`` leaves; as
    ``lower <= A x <= upper``."""
    n, n_types = len(columns), len(counts)
    conv = sp.csr_matrix(
        (np.ones(n), (np.array([c.type for c in columns]), np.arange(n))), shape=(n_types, n)
    )
    bal = sp.csr_matrix(np.array([c.net for c in columns]).T)
    leaves = sp.csr_matrix(np.array([[float(c.leaves.sum()) for c in columns]]))
    a = sp.vstack([conv, bal, leaves]).tocsc()
    rhs = np.array(counts, dtype=float)
    lower = np.concatenate([rhs, np.zeros(n_classes), [0.0]])
    upper = np.concatenate([rhs, np.zeros(n_classes), [float(migration_limit)]])
    return a, lower, upper


def _master_lp(
    columns: list[Column], counts: list[int], n_classes: int, migration_limit: int
) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    """The restricted master LP (max slots over convex combinations of each
    type's configurations, :func:`master_rows`): its value and duals ``(pi,
    mu, sigma)``, or None when HiGHS fails (the bound so far stands)."""
    a, lower, upper = master_rows(columns, counts, n_classes, migration_limit)
    n_eq = len(counts) + n_classes
    res = linprog(
        -np.array([float(c.slots) for c in columns]),
        A_ub=a[n_eq:],
        b_ub=upper[n_eq:],
        A_eq=a[:n_eq],
        b_eq=lower[:n_eq],
        bounds=(0, None),
        method="highs",
    )
    if res.status != 0:
        return None
    pi = max(0.0, float(-res.ineqlin.marginals[0]))
    duals = -np.asarray(res.eqlin.marginals)
    return float(-res.fun), pi, duals[len(counts) :], duals[: len(counts)]
