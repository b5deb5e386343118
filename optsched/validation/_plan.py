"""Step-by-step check of a cluster plan, shared by the placement and the
rescheduling checkers.

Each action is checked against the state the earlier actions left (its
``source`` must be where the item is at that moment) and then applied; the
units (host and NUMA nodes) an action fills are checked for capacity right
after it. An overload still present at the end is a ``capacity`` (or
``numa_capacity``) violation, reported once per unit and resource; one that
later actions clear is a ``move_order`` violation at the step it happens.
Actions that cannot be applied (unknown references, a move of an item that
is not placed, ...) are reported and skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from optsched.model.cluster import Assignment, Item, Node, Snapshot
from optsched.results import Action, ActionKind, Plan, SolveResult
from optsched.validation._fit import selector_misses, untolerated_taints
from optsched.validation._usage import SPLIT_NUMA_COUNT, Unit, Usage
from optsched.validation.report import ValidationReport


@dataclass(frozen=True)
class PlanRules:
    """What a problem allows; built by each checker from its problem."""

    allowed_kinds: frozenset[ActionKind]
    allow_moves: bool = True
    allow_evictions: bool = True
    move_limit: int | None = None
    move_limit_code: str = "max_moves"
    protected_namespaces: tuple[str, ...] = ()
    numa_required: bool = False
    excluded_hosts: frozenset[str] = frozenset()
    same_cluster: bool = False


@dataclass
class Outcome:
    """The final state and counts of a walked plan."""

    where: dict[str, Assignment]
    usage: Usage
    moves: int = 0
    evicted: list[str] = field(default_factory=list)
    # items the plan put on a node other than their initial one -> the step
    # that put them on their final node
    placed_at: dict[str, int] = field(default_factory=dict)


def _key(a: Assignment | None) -> tuple[str, tuple[int, ...]] | None:
    return None if a is None else (a.node, tuple(sorted(a.numa)))


class _Walk:
    def __init__(self, snapshot: Snapshot, rules: PlanRules, report: ValidationReport) -> None:
        self.snapshot, self.rules, self.report = snapshot, rules, report
        self.items = {it.item_id: it for it in snapshot.items}
        self.nodes = {n.name: n for n in snapshot.nodes}
        self.out = Outcome(where=dict(snapshot.assignments), usage=Usage(snapshot))
        self.overloads: list[tuple[int, str, Unit, str, int, int]] = []
        self.disrupted: Counter[str] = Counter()
        self.last_step: dict[str, int] = {}

    def add(
        self, code: str, msg: str, step: int, item: str | None = None, node: str | None = None
    ) -> None:
        self.report.add(code, msg, item_id=item, node=node, step=step)

    def step(self, i: int, a: Action) -> None:
        item = self.items.get(a.item_id)
        if item is None:
            self.add("unknown_reference", f"unknown item {a.item_id!r}", i, a.item_id)
            return
        if (a.kind is ActionKind.EVICT) != (a.target is None):
            self.add("bad_action", f"{a.kind} of {a.item_id} with target {a.target}", i, a.item_id)
            return
        current = self.out.where.get(a.item_id)
        if _key(a.source) != _key(current):
            self.add(
                "source_mismatch",
                f"{a.item_id} is at {current}, action says {a.source}",
                i,
                a.item_id,
            )
        if (a.kind is ActionKind.PLACE) != (current is None):
            if _key(a.source) == _key(current):
                state = "pending" if current is None else "placed"
                self.add("bad_action", f"{a.kind} of {state} item {a.item_id}", i, a.item_id)
            return
        self._permissions(i, a, item)
        if a.target is not None and not self._target_ok(i, item, a.target):
            return
        self._apply(i, item, current, a.target)

    def _permissions(self, i: int, a: Action, item: Item) -> None:
        r, iid = self.rules, item.item_id
        if a.kind not in r.allowed_kinds:
            self.add("action_kind", f"{a.kind} is not allowed by this problem", i, iid)
        if a.kind is ActionKind.PLACE:
            if iid in self.snapshot.assignments and not item.movable:
                # placed again after its eviction: nothing recreates an
                # immovable item elsewhere, so this is a move it may not make
                self.add("immovable", f"{iid} is not movable: placed again after eviction", i, iid)
            return
        if item.namespace in r.protected_namespaces:
            self.add("protected", f"{iid} is in protected namespace {item.namespace!r}", i, iid)
        if a.kind is ActionKind.MOVE:
            self.out.moves += 1
            if not item.movable:
                self.add("immovable", f"{iid} is not movable", i, iid)
            if not r.allow_moves:
                self.add("moves_disallowed", "the problem allows no moves", i, iid)
        else:
            self.out.evicted.append(iid)
            if not item.evictable:
                self.add("non_evictable", f"{iid} is not evictable", i, iid)
            if not r.allow_evictions:
                self.add("evictions_disallowed", "the problem allows no evictions", i, iid)
        if item.owner:
            self.disrupted[item.owner] += 1

    def _target_ok(self, i: int, item: Item, t: Assignment) -> bool:
        node = self.nodes.get(t.node)
        if node is None:
            self.add("unknown_reference", f"unknown node {t.node!r}", i, item.item_id, t.node)
            return False
        bad = [k for k in t.numa if not 0 <= k < len(node.numa)]
        if bad:
            self.add(
                "unknown_reference", f"{t.node} has no NUMA node {bad}", i, item.item_id, t.node
            )
            return False
        self._check_numa(i, item, node, t.numa)
        self._check_node(i, item, node)
        return True

    def _check_numa(self, i: int, item: Item, node: Node, numa: tuple[int, ...]) -> None:
        iid, name = item.item_id, node.name
        if not node.numa or not (numa or self.rules.numa_required):
            return
        if len(set(numa)) != len(numa):
            self.add("numa_layout", f"{iid} repeats a NUMA node {numa}", i, iid, name)
        want = SPLIT_NUMA_COUNT if item.numa_split else 1
        if len(set(numa)) != want:
            self.add("numa_layout", f"{iid} needs {want} NUMA node(s), got {numa}", i, iid, name)
        odd = sorted(r for r, q in item.requests.items() if q % SPLIT_NUMA_COUNT)
        if item.numa_split and odd:
            self.add("numa_layout", f"split {iid} has odd request(s) {odd}", i, iid, name)

    def _check_node(self, i: int, item: Item, node: Node) -> None:
        iid, name, r = item.item_id, node.name, self.rules
        if not node.schedulable:
            self.add("unschedulable", f"{name} is not schedulable", i, iid, name)
        if name in r.excluded_hosts:
            self.add("excluded_host", f"{name} is excluded as a destination", i, iid, name)
        if r.same_cluster and item.cluster != node.cluster:
            msg = f"{iid} of cluster {item.cluster!r} moved to cluster {node.cluster!r}"
            self.add("cluster", msg, i, iid, name)
        misses = selector_misses(item, node)
        if misses:
            self.add("node_selector", f"{name} lacks {misses}", i, iid, name)
        taints = untolerated_taints(item, node)
        if taints:
            shown = [f"{t.key}={t.value}:{t.effect}" for t in taints]
            self.add("taint", f"{iid} does not tolerate {shown} on {name}", i, iid, name)

    def _apply(self, i: int, item: Item, src: Assignment | None, dst: Assignment | None) -> None:
        usage, iid = self.out.usage, item.item_id
        if src is not None:
            usage.add(item, src, -1)
            del self.out.where[iid]
        if dst is None:
            return
        usage.add(item, dst, +1)
        self.out.where[iid] = dst
        self.last_step[iid] = i
        for unit in usage.units_of(dst):
            for res, used, lim in usage.over(unit):
                self.overloads.append((i, iid, unit, res, used, lim))

    def finish(self) -> Outcome:
        self._overloads()
        r = self.rules
        if r.move_limit is not None and self.out.moves > r.move_limit:
            msg = f"{self.out.moves} moves exceed the limit of {r.move_limit}"
            self.report.add(r.move_limit_code, msg)
        for owner, n in sorted(self.disrupted.items()):
            budget = self.snapshot.disruption_budgets.get(owner)
            if budget is not None and n > budget:
                msg = f"{n} items of {owner} moved or evicted, budget {budget}"
                self.report.add("disruption_budget", msg)
        before = self.snapshot.assignments
        self.out.placed_at = {
            iid: self.last_step[iid]
            for iid, a in self.out.where.items()
            if iid not in before or before[iid].node != a.node
        }
        return self.out

    def _overloads(self) -> None:
        usage, seen = self.out.usage, set()
        for step, iid, unit, res, used, lim in self.overloads:
            where = unit[0] if unit[1] is None else f"{unit[0]} NUMA {unit[1]}"
            msg = f"{res} {used} > {lim} on {where} after placing {iid}"
            if usage.used_of(unit, res) <= lim:
                self.add("move_order", msg + " (cleared by a later step)", step, iid, unit[0])
            elif (unit, res) not in seen:
                seen.add((unit, res))
                code = "capacity" if unit[1] is None else "numa_capacity"
                self.add(code, msg, step, iid, unit[0])


def walk_plan(
    snapshot: Snapshot, plan: Plan, rules: PlanRules, report: ValidationReport
) -> Outcome:
    """Check and apply every action of ``plan``; return the final state."""
    walk = _Walk(snapshot, rules, report)
    for i, action in enumerate(plan.actions):
        walk.step(i, action)
    return walk.finish()


def check_unplaced(
    snapshot: Snapshot, out: Outcome, result: SolveResult, report: ValidationReport
) -> None:
    """``result.unplaced`` lists exactly the pending or evicted items that end
    unplaced (it may also list nothing else)."""
    listed = {u.item_id for u in result.unplaced}
    known = {it.item_id for it in snapshot.items}
    for iid in sorted(listed - known):
        report.add("unknown_reference", f"unplaced lists unknown item {iid!r}", item_id=iid)
    candidates = {it.item_id for it in snapshot.pending} | set(out.evicted)
    for iid in sorted(candidates - set(out.where) - listed):
        report.add("unplaced_missing", f"{iid} ends unplaced but is not listed", item_id=iid)
    for iid in sorted((listed & known) & set(out.where)):
        report.add("unplaced_spurious", f"{iid} is listed as unplaced but is placed", item_id=iid)
