"""Turn a final assignment into a Plan whose actions are executable in order.

Order: every eviction first (they only free room), then moves and placements,
each taken as soon as its target has room (capacity, NUMA capacity and
affinity checked against the state at that step). A move frees its source,
which may unblock others; moves are tried before placements so that freed
room reaches the pods that were waiting for it.

When only moves remain and none can go (a cycle: A waits for B's node and B
for A's), one of them is parked on a node that has room now (an extra move)
and finishes from there; an item is parked at most once, which bounds the
plan. When no node can take it, the move is carried out as
Kubernetes carries out every pod move anyway: evict, then place the
replacement once its target has room; the plan's notes say so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optsched.model import Assignment
from optsched.results import Action, ActionKind, Plan
from optsched.solvers.placement.state import snapshot_state
from optsched.solvers.placement.topology import Topology

Step = tuple[str, Assignment]


def order_plan(topo: Topology, final: Mapping[str, Assignment]) -> tuple[Plan, list[str]]:
    """The plan from the snapshot to ``final``, and notes on cycles broken."""
    return _Builder(topo).build(final)


class _Builder:
    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.snap = topo.cc.snapshot
        self.state = snapshot_state(topo)
        self.where: dict[str, Assignment] = dict(self.snap.assignments)
        self.actions: list[Action] = []
        self.notes: list[str] = []
        self.parked: set[str] = set()

    def build(self, final: Mapping[str, Assignment]) -> tuple[Plan, list[str]]:
        snap = self.snap
        evicted = sorted(
            (i for i in snap.assignments if i not in final),
            key=lambda i: (snap.item(i).priority, i),
        )
        for i in evicted:
            self._leave(i)
            self.actions.append(Action(ActionKind.EVICT, i, source=snap.assignments[i]))
        todo = [(i, a) for i, a in final.items() if snap.assignments.get(i) != a]
        todo.sort(key=lambda s: (s[0] not in snap.assignments, -snap.item(s[0]).priority, s[0]))
        if not evicted and self._only_placements_that_fit(todo):
            places = (Action(ActionKind.PLACE, i, target=a) for i, a in todo)
            return Plan(tuple(places)), self.notes
        while todo:
            todo = self._drain(todo)
            if todo:
                todo = self._break_cycle(todo)
        return Plan(tuple(self.actions)), self.notes

    def _only_placements_that_fit(self, todo: list[Step]) -> bool:
        """Whether ``todo`` only places pending items, with no affinity term
        in the problem, and everything fits once placed. Placements only
        add load, so each then fits at its step in any order: the passes of
        :meth:`_drain` would take them all, in order, in the first one."""
        if self.topo.terms or any(i in self.where for i, _ in todo):
            return False
        for i, a in todo:
            self._arrive(i, a)
        if (self.state.free >= 0).all() and (self.state.numa_free >= 0).all():
            return True
        self.state, self.where = snapshot_state(self.topo), dict(self.snap.assignments)
        return False

    def _leave(self, i: str) -> Assignment | None:
        src = self.where.pop(i, None)
        if src is not None:
            self.state.remove(self.snap.item_index[i])
        return src

    def _arrive(self, i: str, a: Assignment) -> None:
        self.state.place(self.snap.item_index[i], self.snap.node_index[a.node], a.numa)
        self.where[i] = a

    def _try(self, i: str, a: Assignment) -> bool:
        src = self._leave(i)
        m = self.snap.item_index[i]
        if self.state.fits_on(m, self.snap.node_index[a.node], a.numa):
            self._arrive(i, a)
            kind = ActionKind.PLACE if src is None else ActionKind.MOVE
            self.actions.append(Action(kind, i, source=src, target=a))
            return True
        if src is not None:
            self._arrive(i, src)
        return False

    def _drain(self, todo: list[Step]) -> list[Step]:
        """Apply every step that fits, in passes, until a pass makes no progress."""
        while todo:
            waiting = [(i, a) for i, a in todo if not self._try(i, a)]
            if len(waiting) == len(todo):
                return waiting
            todo = waiting
        return todo

    def _break_cycle(self, todo: list[Step]) -> list[Step]:
        moves = [s for s in todo if s[0] in self.where]
        if not moves:
            # placements blocked only by affinity that no step-by-step order
            # satisfies (two pods that each require the other): place one
            i, a = todo[0]
            self._arrive(i, a)
            self.actions.append(Action(ActionKind.PLACE, i, target=a))
            self.notes.append(f"{i}: its required affinity holds once the plan completes")
            return todo[1:]
        # each item is parked at most once (an item parked again could
        # bounce between two nodes forever); then the move becomes an eviction
        fresh = [s for s in moves if s[0] not in self.parked]
        i, a = (fresh or moves)[0]
        m = self.snap.item_index[i]
        src = self.where[i]
        self._leave(i)
        mask = self.state.feasible_nodes(m)
        mask[self.snap.node_index[src.node]] = False
        if fresh and mask.any():
            self.parked.add(i)
            park = int(np.argmax(np.where(mask, self.state.free.sum(axis=1), -1)))
            park_at = Assignment(self.snap.nodes[park].name, self.state.numa_slot(m, park))
            self._arrive(i, park_at)
            self.actions.append(Action(ActionKind.MOVE, i, source=src, target=park_at))
            self.notes.append(f"{i}: parked on {park_at.node} to break a cycle of moves")
        else:
            self.actions.append(Action(ActionKind.EVICT, i, source=src))
            self.notes.append(
                f"{i}: no node can hold it mid-plan; evicted, then placed on {a.node}"
            )
        return todo


def plan_violations(topo: Topology, plan: Plan) -> list[str]:
    """Rules that ``plan`` breaks although its final assignment meets every
    rule of the model: breaking a cycle of moves costs an extra move (parking)
    or, when no node has room mid-plan, an eviction of the moving item; that
    eviction is not allowed for an item that may not be evicted, and the
    extra actions count against disruption budgets and the move limit. The
    final assignment is then not reachable by this plan (empty: executable)."""
    problem = topo.problem
    snap = topo.cc.snapshot
    out: list[str] = []
    disrupted: dict[str, int] = {}
    moves = 0
    for a in plan.actions:
        if a.kind is ActionKind.PLACE:
            continue
        item = snap.item(a.item_id)
        if a.kind is ActionKind.MOVE:
            moves += 1
        elif not problem.may_evict(item):
            out.append(f"{a.item_id} may not be evicted, and its move waits on a cycle")
        if item.owner in snap.disruption_budgets:
            disrupted[item.owner] = disrupted.get(item.owner, 0) + 1
    for owner, n in sorted(disrupted.items()):
        if n > snap.disruption_budgets[owner]:
            out.append(f"{n} disruptions of {owner}, budget {snap.disruption_budgets[owner]}")
    if problem.max_moves is not None and moves > problem.max_moves:
        out.append(f"{moves} moves, limit {problem.max_moves}")
    return out
