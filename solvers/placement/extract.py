"""From counts to items, and back: the final assignment that a solution's
``y[c,s]`` counts describe, and the counts of a given assignment (used to
hint the model with a heuristic's answer).

Within a class members are interchangeable, so which ones stay, move, are
evicted or are placed is fixed by a deterministic rule: running members stay
in snapshot order up to ``min(run, y)`` per slot; departures (snapshot order)
fill the remaining arrivals first as moves, up to the solution's move count,
then pending members (snapshot order). Taking ``keep = min(run, y)`` can only
lower departures, so budgets and limits the solution met still hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping

from optsched.model import Assignment
from optsched.solvers._cpsat import set_hint
from optsched.solvers.placement.classes import ItemClass, Slot
from optsched.solvers.placement.model import PlacementModel


def assignment_from_counts(
    pm: PlacementModel, counts: Mapping[tuple[int, Slot], int], moved: Callable[[int], int]
) -> dict[str, Assignment]:
    snap = pm.topo.cc.snapshot
    nodes = snap.nodes
    final: dict[str, Assignment] = {}
    for c in pm.classes:
        slots = pm.by_class[c.index]
        y = {s: int(counts.get((c.index, s), 0)) for s in slots}
        departures: list[int] = []
        arrivals: list[Slot] = []
        for s in slots:
            run = c.running.get(s, [])
            keep = min(len(run), y[s])
            for m in run[:keep]:
                final[snap.items[m].item_id] = Assignment(nodes[s[0]].name, s[1])
            departures += run[keep:]
            arrivals += [s] * (y[s] - keep)
        for s, members in c.running.items():
            if s not in y:
                departures += members
        departures.sort()
        n_moved = max(
            len(arrivals) - len(c.pending), min(moved(c.index), len(departures), len(arrivals))
        )
        movers = departures[:n_moved] + c.pending
        for m, s in zip(movers, arrivals, strict=False):
            final[snap.items[m].item_id] = Assignment(nodes[s[0]].name, s[1])
    return final


def counts_of(pm: PlacementModel, final: Mapping[str, Assignment]) -> dict[tuple[int, Slot], int]:
    """The ``y`` values of an assignment; slots the model lacks are dropped."""
    snap = pm.topo.cc.snapshot
    member_class = {m: c.index for c in pm.classes for m in c.members}
    out: dict[tuple[int, Slot], int] = defaultdict(int)
    for i, a in final.items():
        m = snap.item_index[i]
        key = (member_class[m], (snap.node_index[a.node], tuple(a.numa) if pm.topo.numa else ()))
        if key in pm.y:
            out[key] += 1
    return dict(out)


def moves_of(c: ItemClass, counts: Mapping[tuple[int, Slot], int]) -> int:
    """Departures paired with arrivals for class ``c`` under ``counts``."""
    total = sum(v for (k, _), v in counts.items() if k == c.index)
    kept = sum(min(len(ms), counts.get((c.index, s), 0)) for s, ms in c.running.items())
    departed = c.n_running - kept
    arrived = total - kept
    return min(departed, arrived)


def add_hint(pm: PlacementModel, counts: Mapping[tuple[int, Slot], int]) -> None:
    """Hint every count, keep, move and packing variable with an assignment's values."""
    per_class: dict[int, dict[tuple[int, Slot], int]] = defaultdict(dict)
    for key, v in counts.items():
        per_class[key[0]][key] = v
    variables: list[int] = []
    values: list[int] = []
    for key, var in pm.y.items():
        variables.append(var)
        values.append(int(counts.get(key, 0)))
    for (ci, s), var in pm.keep.items():
        variables.append(var)
        values.append(min(len(pm.classes[ci].running[s]), int(counts.get((ci, s), 0))))
    for c in pm.classes:
        variables.append(pm.moved[c.index])
        values.append(moves_of(c, per_class.get(c.index, {})) if c.may_move else 0)
    for var, value_of in pm.derived:
        variables.append(var)
        values.append(value_of(counts))
    set_hint(pm.model, variables, values)
