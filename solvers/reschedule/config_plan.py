"""Plans from the configurations of :mod:`.config_bound` ("price and branch").

The integer master over the configurations that column generation found
(HiGHS MIP, :func:`.config_bound.master_rows`: one configuration per host,
arrivals = leaves per class, at most ``MNL`` leaves) chooses what leaves and
what arrives on every host. Its slots are at most the bound, and on most
instances measured they reach it. Not always: the configurations an integer
optimum needs may never have priced out. Adding the host configurations of
another plan (the local search's, :func:`plan_columns`) lets the master
combine their parts with the priced ones; on the three medium instances
where the priced columns alone fell one fragment short (generated seeds 2
and 4, MNL 25 and 50), that reached the bound. A dive that fixed the LP's
largest fractions and went on pricing made the residual master infeasible
there instead, and was not kept. A choice is turned into migrations:

1. the hosts of a type take its chosen configurations in turn; each
   configuration names the VMs that leave and the classes that arrive on
   each NUMA slot;
2. per class, the arrivals take the VMs that leave: a VM back on its own
   placement stays (no move); otherwise the arrivals with the least memory
   to spare go first, each taking the largest VM of its class whose memory
   fits (the configurations count CPU only);
3. :func:`.sequencing.sequence` orders the moves with the state's own checks
   (capacity in every resource, anti-affinity), parking VMs to break cycles
   within the limit; a move it cannot order is left out, so the result is
   always an executable plan, if perhaps a weaker one.

The plan is a candidate like any other: the exact solver and LNS start from
it when it beats their local search's, and it is optimal when it meets the
bound.

:func:`recombine` runs the same integer master over the host configurations
of several plans only (no pricing): the learned solver's ``K`` trajectories
and the local search's plan, combined host by host. On held-out generated
medium instances at MNL 25 (seeds 0-9 and the shipped snapshot, K = 8, three
sampling seeds) it lifted the share of the optimal reduction from 0.93-0.94
(best single trajectory) to 0.95-0.97, and at K = 12 from 0.95 to 0.98-0.99,
for about 0.05 s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from optsched.model import MEMORY_MB
from optsched.solvers.reschedule.classes import Move
from optsched.solvers.reschedule.config_bound import (
    Column,
    ConfigBound,
    Master,
    applies,
    host_master,
    master_rows,
)
from optsched.solvers.reschedule.sequencing import sequence
from optsched.solvers.reschedule.state import RescheduleState

MIN_MIP_S = 0.05


def configuration_plan(
    state: RescheduleState,
    bound: ConfigBound,
    migration_limit: int,
    deadline: float,
    also: Sequence[RescheduleState] = (),
) -> RescheduleState | None:
    """A copy of ``state`` with the plan of the module docstring applied, or
    None when the integer master finds no solution by ``deadline``. The
    hosts' configurations in the plans ``also`` (states reached from
    ``state``) join this master's columns (not the bound's own), so that it
    can combine their parts with the priced ones.

    With plans ``also``, only a plan better than the best of them is sought
    (the caller has them already): the master keeps the columns that may be
    part of a choice with more slots than that plan (:meth:`.config_bound.
    Prices.can_reach`), and where that leaves a host type without any, or
    the bound is already met, there is none (None). On the shipped medium
    snapshot at MNL 25 / 50, with the learned solver's candidates, that kept
    639 / 1,145 of 1,697 / 1,837 columns and the master took 0.019 / 0.03 s
    instead of 0.035 / 0.072 s; on generated instances where the migration
    limit does not bind (its price 0) most columns are as good as their
    type's best at the prices, and few are cut."""
    best = min((final.frag_sum for final in also), default=None)
    if best is not None and bound.proves(best):
        return None
    m = bound.master
    columns = m.columns + [col for final in also for col in plan_columns(state, m, final)]
    if best is not None and bound.prices is not None:
        need = (state.free_sum - best) // state.problem.fragment_cores + 1  # a better plan's slots
        keep = bound.prices.can_reach(columns, need)
        if len({columns[j].type for j in np.flatnonzero(keep)}) < len(m.types):
            return None
        columns = [c for c, k in zip(columns, keep, strict=True) if k]
    return _planned(state, m, columns, migration_limit, deadline)


def recombine(
    origin: RescheduleState,
    finals: Sequence[RescheduleState],
    migration_limit: int,
    deadline: float,
) -> RescheduleState | None:
    """The best combination of the plans ``finals`` (states reached from
    ``origin``) host by host: the integer master over their hosts'
    configurations only (no pricing, no bound), so each host takes what one
    of the plans did with a host of its type, the classes that leave balance
    those that arrive, and at most ``migration_limit`` VMs leave. Every
    plan in ``finals`` is one such choice, so the master's slots are at
    least each plan's; the plan made from the choice (module docstring) may
    lose some where memory does not fit, so callers keep the best of it and
    the plans they gave. None where the configurations do not describe the
    problem (:func:`.config_bound.applies`) or without an answer in time."""
    if not applies(origin):
        return None
    m = host_master(origin)
    columns = m.columns + [col for final in finals for col in plan_columns(origin, m, final)]
    return _planned(origin, m, columns, migration_limit, deadline)


def _planned(
    state: RescheduleState,
    m: Master,
    columns: list[Column],
    migration_limit: int,
    deadline: float,
) -> RescheduleState | None:
    """The integer master over ``columns`` and its choice made into moves
    on a copy of ``state``."""
    chosen = _integer_master(m, columns, migration_limit, deadline)
    if chosen is None:
        return None
    pools: dict[int, list[int]] = {}
    arrivals: list[tuple[int, int, tuple[int, ...]]] = []  # (class, host, NUMA slots)
    hosts = [iter(h) for h in m.hosts]
    for j, n in chosen.items():
        col = columns[j]
        for _ in range(n):
            h = next(hosts[col.type])
            for pos in col.leave_at:
                pools.setdefault(m.types[col.type].vms[pos][0], []).append(m.vms[h][pos])
            arrivals += [(c, h, numa) for c, numa in col.arrive]
    moves = _match(state, pools, arrivals)
    done = state.copy()
    sequence(done, moves, migration_limit)
    return done


def plan_columns(origin: RescheduleState, m: Master, final: RescheduleState) -> list[Column]:
    """Each host's configuration in ``final`` (a state reached from
    ``origin`` by moving VMs), as a column of its type."""
    f = origin.problem.fragment_cores
    cpu = origin.cpu_col
    index = {key: c for c, key in enumerate(m.classes)}
    moved = (final.vm_host != origin.vm_host) | (final.vm_place != origin.vm_place)
    arriving: dict[int, list[int]] = {}
    for v in np.nonzero(moved)[0]:
        arriving.setdefault(int(final.vm_host[v]), []).append(int(v))
    columns = []
    for i, hosts in enumerate(m.hosts):
        t = m.types[i]
        for h in hosts:
            leave_at = tuple(p for p, v in enumerate(m.vms[h]) if moved[v])
            if not leave_at and h not in arriving:
                continue
            leaves = np.zeros(len(m.classes))
            for p in leave_at:
                leaves[t.vms[p][0]] += 1
            arrive = []
            for w in arriving.get(h, []):
                _, numa0 = origin.placement_of(w)
                share = int(origin.usage(w, numa0)[cpu])
                key = (int(origin.vm_cluster[w]), len(numa0), share)
                arrive.append((index[key], final.placements[int(final.vm_place[w])]))
            arrived = np.zeros(len(m.classes))
            for c, _ in arrive:
                arrived[c] += 1
            units = range(len(t.free))
            slots = sum(int(final.numa_free[h, k, cpu]) // f for k in units) if t.counted else 0
            columns.append(Column(i, slots, leaves, arrived - leaves, leave_at, tuple(arrive)))
    return columns


def _integer_master(
    m: Master, columns: list[Column], migration_limit: int, deadline: float
) -> dict[int, int] | None:
    """The integer master over ``columns`` (HiGHS MIP): how many hosts take
    each configuration, or None without an answer in time."""
    left = deadline - time.monotonic()
    if left < MIN_MIP_S:
        return None
    counts = [len(hosts) for hosts in m.hosts]
    a, lower, upper = master_rows(columns, counts, len(m.classes), migration_limit)
    res = milp(
        -np.array([float(c.slots) for c in columns]),
        constraints=LinearConstraint(a, lower, upper),
        integrality=np.ones(len(columns)),
        bounds=Bounds(0, np.inf),
        options={"time_limit": left},
    )
    if res.x is None:
        return None
    x = np.rint(res.x).astype(np.int64)
    return {int(j): int(x[j]) for j in np.nonzero(x > 0)[0]}


def _match(
    state: RescheduleState,
    pools: dict[int, list[int]],
    slots: list[tuple[int, int, tuple[int, ...]]],
) -> list[Move]:
    """Leaving VMs to arrival slots, class by class (module docstring, 2)."""
    mem = state.resources.index(MEMORY_MB) if MEMORY_MB in state.resources else -1
    spare: dict[tuple[int, int], int] = {}  # memory left per unit, leaves done
    if mem >= 0:
        for vms in pools.values():
            for v in vms:
                h, numa = state.placement_of(v)
                for k in numa:
                    key = (h, k)
                    spare[key] = spare.get(key, int(state.numa_free[h, k, mem]))
                    spare[key] += int(state.usage(v, numa)[mem])
    moves: list[Move] = []
    by_class: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    for c, h, numa in slots:
        by_class.setdefault(c, []).append((h, numa))
    for c, targets in by_class.items():
        pool = pools.get(c, [])
        rest = []
        for h, numa in targets:  # a VM back on its own placement stays
            home = next((v for v in pool if state.placement_of(v) == (h, numa)), None)
            if home is None:
                rest.append((h, numa))
            else:
                pool.remove(home)
        if mem >= 0:
            for h, numa in rest:
                for k in numa:
                    spare.setdefault((h, k), int(state.numa_free[h, k, mem]))
            rest.sort(key=lambda t: min(spare[(t[0], k)] for k in t[1]))
            pool.sort(key=lambda v: -int(state.vm_req[v, mem]))
        for h, numa in rest:
            if not pool:
                break
            pick = 0
            if mem >= 0:
                room = min(spare[(h, k)] for k in numa)
                fits = [i for i, v in enumerate(pool) if state.usage(v, numa)[mem] <= room]
                pick = fits[0] if fits else len(pool) - 1
            v = pool.pop(pick)
            if mem >= 0:
                for k in numa:
                    spare[(h, k)] -= int(state.usage(v, numa)[mem])
            moves.append((v, h, numa))
    return moves
