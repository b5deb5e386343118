"""A lower bound on the fragment remainder from how few units a plan can
*wrap* (free a whole fragment's worth at) with its migrations; strong where
the LP bound of :mod:`.bound` is weak, on the large cluster above all.

Notation as in :mod:`.bound`: units ``u`` (NUMA nodes of counted hosts),
``F`` the fragment size, ``r_u`` a unit's free CPU mod ``F`` at the start,
``R = sum_u r_u``. Each VM puts a *share* on each of its units (its request,
or half of it when split); write a share as ``F q + m`` with ``0 <= m < F``.

Take any plan, and at each unit ``u`` the shares of the VMs that were there
at the start and are elsewhere at the end (``out_u``) and of those there at
the end that were not (``in_u``); ``x_u = out_u - in_u`` is the change of the
unit's free CPU, so its final remainder is ``(r_u + x_u) mod F`` and

    ``R' - R = sum_u x_u - F * sum_u floor((r_u + x_u) / F)``.

When every movable VM starts on a counted host (migrations go only to
counted hosts) and a VM's shares are the same wherever it goes (no split VM
on a host without NUMA layout, where it puts its whole request on one slot),
every moved share leaves one unit and
arrives at another: ``sum_u x_u = 0``, and the same holds for the ``q``
parts. Splitting ``out_u`` and ``in_u`` into ``F * Q + M`` (``M`` the sum of
the ``m`` parts),

    ``sum_u floor((r_u + x_u) / F) = sum_u floor((r_u + M_out,u - M_in,u) / F)
    <= sum_u floor((r_u + M_out,u) / F)``,

so ``R' >= R - F * W`` with ``W`` the most *wraps* ``sum_u floor((r_u +
M_out,u) / F)`` that any choice of at most ``MNL`` movable VMs to move away
can give, wherever they go. ``R' - R`` is a multiple of ``F``, and ``R' >=
0``, so also ``R' >= R mod F``.

Computing ``W``: per unit, the fewest VMs leaving it that give ``j`` wraps,
taking the largest ``m`` first among its one-unit VMs and its split VMs
(one move of a split VM serves both of its units; counting it as half a move
at each is a relaxation, so the bound stays valid); then a knapsack over the
units with ``2 * MNL`` half-moves. Destinations, capacity and anti-affinity
are ignored (relaxations: a larger ``W``, a lower bound).

The LP bound relaxes the plan host by host and ties hosts by their total
free CPU only; this bound ties them by the conservation of the ``q`` parts,
which the LP does not see. Measured with :func:`wrap_remainder` on the
shipped and generated snapshots: on large it is tighter than the LP at every
limit (seed 3 of the generator at MNL 25 and 50: 0.5423 against the LP's
0.5244 and 0.4903, met by the local search of :mod:`.pairs`, so proven
optimal), on medium it is tighter too but far from the optimum at MNL 50 (it
ignores where the leaving fragments land).
"""

from __future__ import annotations

import numpy as np

from optsched.solvers.reschedule.state import RescheduleState


def applies(state: RescheduleState) -> bool:
    """Whether the conservation the bound rests on holds (module docstring)."""
    if state.problem.memory_aware:
        return False
    movable = np.nonzero(state.vm_movable)[0]
    if not state.host_counted[state.vm_host[movable]].all():
        return False
    # a split VM on one slot (a host without NUMA layout) puts its whole
    # request there and half of it on each of two nodes elsewhere
    one_slot = state.vm_numa[movable, 1] < 0
    return not (state.vm_split[movable] & one_slot).any()


def _unit_costs(r: int, split: list[int], single: list[int], f: int) -> list[int]:
    """Fewest half-moves (a split VM's leave counts 1 here, a one-unit VM's
    2) giving 1, 2, ... wraps at a unit with remainder ``r``, from the ``m``
    parts of its split and one-unit VMs; as many entries as wraps reachable."""
    a = np.concatenate([[0], np.cumsum(sorted(split, reverse=True))])
    b = np.concatenate([[0], np.cumsum(sorted(single, reverse=True))])
    wraps = (r + a[:, None] + b[None, :]) // f
    cost = np.arange(len(a))[:, None] + 2 * np.arange(len(b))[None, :]
    return [int(cost[wraps >= j].min()) for j in range(1, int(wraps.max()) + 1)]


def max_wraps(state: RescheduleState, migration_limit: int) -> int:
    """``W`` of the module docstring (an upper bound on the wraps of any plan
    with at most ``migration_limit`` migrations)."""
    f = state.problem.fragment_cores
    rem = state.unit_free()[0] % f
    parts: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
    for v in np.nonzero(state.vm_movable)[0]:
        h, numa = state.placement_of(int(v))
        m = int(state.usage(int(v), numa)[state.cpu_col]) % f
        if m:
            for k in numa:
                parts.setdefault((h, k), ([], []))[0 if len(numa) == 2 else 1].append(m)
    budget = 2 * migration_limit
    best = np.zeros(budget + 1, dtype=np.int64)  # most wraps within each budget
    for (h, k), (split, single) in parts.items():
        costs = _unit_costs(int(rem[h, k]), split, single, f)
        if not costs:
            continue
        new = best.copy()
        for j, c in enumerate(costs, start=1):
            if c <= budget:
                new[c:] = np.maximum(new[c:], best[: budget + 1 - c] + j)
        best = new
    return int(best[budget])


def wrap_remainder(state: RescheduleState, migration_limit: int) -> int | None:
    """A lower bound on the remainder ``R`` of every plan from ``state`` with
    at most ``migration_limit`` migrations, or None when it does not apply
    (:func:`applies`). ``T`` is then the same for every plan."""
    if not applies(state):
        return None
    f = state.problem.fragment_cores
    frag = state.frag_sum
    return max(frag - f * max_wraps(state, migration_limit), frag % f)
