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
maximum is exact. The per-host maximum is exact (:mod:`.config_price`
prices every host type in one batch over its enumerated leave sets; the
dynamic programme below is the per-type fallback and its test oracle):

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
0.7245 / 0.5753, each the proven optimum, in 0.25-0.3 s (10-12 rounds,
about 1,600-1,700 configurations); on generated medium instances (seeds
0-9) it meets the optimum wherever that is known (FR 0.4490 at MNL 10 on
seed 0, 0.4261 at MNL 25 and 50) in 0.11-0.27 s; on the shipped large
snapshot at MNL 10/25/50 it is 0.5917 / 0.5815 / 0.5713 in 0.27-0.51 s,
which the local search's plans meet (so they are optimal). Before pricing
was batched (:mod:`.config_price`) the same bounds took 0.8-1.4 s, 0.35-0.75
s and 1.0-1.8 s; what is left is mostly the master LP (HiGHS through
``scipy.optimize.linprog``, 10-30 ms a round) and building the columns that
price out. Against brute force on 4,000 small generated
instances (2,110 where it applies): never above the optimum, equal to it on
2,024.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from optsched.solvers.reschedule.config_price import ClassKey, Column, HostType, Pricing
from optsched.solvers.reschedule.state import RescheduleState
from optsched.solvers.reschedule.wrap_bound import applies as wrap_applies

__all__ = ["ClassKey", "Column", "ConfigBound", "HostType", "Master", "Prices", "config_bound"]

EPS = 1e-6  # rounding slack: only ever weakens the bound (floor(L + EPS))
# slack of Prices.can_reach: keeps columns within it of the cut (never drops one
# that floating point put just past it)
REACH_TOL = 1e-6
PRICE_TOL = 1e-9  # a configuration enters the master when it gains more
MAX_ROUNDS = 200


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


@dataclass(frozen=True)
class Prices:
    """The prices ``(pi, mu)`` of the pricing round that gave the bound, each
    host type's worth at them (its best configuration's ``slots - pi *
    leaves - mu . net``) and the Lagrangian value ``L`` they give."""

    pi: float
    mu: np.ndarray
    worth: np.ndarray
    lagrangian: float

    def can_reach(self, columns: list[Column], slots: int) -> np.ndarray:
        """Which of ``columns`` may be part of a choice (one configuration per
        host, balanced, within the migration limit) with at least ``slots``:
        a choice that gives a host of type ``t`` configuration ``c`` has at
        most ``L - (worth[t] - value(c))`` (the same Lagrangian argument as
        the bound, with that host's maximum replaced by ``value(c)``), so a
        column whose shortfall from its type's best exceeds ``L - slots``
        is in no such choice (Lagrangian reduced-cost fixing)."""
        if not columns:
            return np.zeros(0, dtype=bool)
        types = np.array([c.type for c in columns])
        value = (
            np.array([float(c.slots) for c in columns])
            - self.pi * np.array([c.leaves.sum() for c in columns])
            - np.array([c.net for c in columns]) @ self.mu
        )
        return self.lagrangian - (self.worth[types] - value) >= slots - REACH_TOL


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
    prices: Prices | None = None  # of the round that gave the bound

    @property
    def columns(self) -> int:
        return len(self.master.columns)

    def proves(self, frag: int) -> bool:
        """Whether a plan with remainder ``frag`` meets the bound (is then
        optimal: where the bound applies, every plan has the same free CPU)."""
        return frag <= self.frag


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
    counts = [len(hosts) for hosts in master.hosts]
    n_classes = len(master.classes)
    pricing = Pricing(master.types, master.classes, f)
    total = state.free_sum
    target_slots = None if target_frag is None else (total - target_frag) // f
    pi, mu, sigma = 0.0, np.zeros(n_classes), None
    bound, lp, rounds, converged = np.inf, float("nan"), 0, False
    prices: Prices | None = None
    while rounds < MAX_ROUNDS:
        rounds += 1
        worth = pricing.round(mu, pi)
        lagrangian = pi * migration_limit + float(np.dot(counts, worth))
        # every type's best configuration in the first round, then those that gain
        better = range(len(worth)) if sigma is None else np.flatnonzero(worth > sigma + PRICE_TOL)
        master.columns += [pricing.column(int(i)) for i in better]
        if lagrangian < bound:
            bound, prices = lagrangian, Prices(pi, mu, worth, lagrangian)
        rounded = int(np.floor(bound + EPS))
        if len(better) == 0:
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
        prices=prices,
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
    leaves = sp.csr_matrix(np.array([c.leaves for c in columns]).sum(axis=1)[None, :])
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
