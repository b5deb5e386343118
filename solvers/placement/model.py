"""The CP-SAT placement model: variables and constraints.

Sets: classes ``C`` of interchangeable items (:mod:`.classes`); nodes ``N``;
slots ``s = (n, numa)`` (a node, or a NUMA node / pair on NUMA hosts);
resources ``R``; topology domains ``D_k`` per key; owners ``O`` with a
disruption budget ``b_o``.

Variables, per class ``c``:
- ``y[c,s]`` in ``0..ub``: members of ``c`` on slot ``s`` in the answer, over
  the class's candidate slots (:mod:`.candidates`);
- ``keep[c,s] <= min(run[c,s], y[c,s])``: members that stay where they run;
- ``moved[c]``: departures that arrive elsewhere (pairs of a departure and an
  arrival of the same class are a move; the rest of the departures are
  evictions, the rest of the arrivals pending items placed).

With ``R_c`` running and ``P_c`` pending members, ``D_c = R_c - sum keep``
departures, ``A_c = sum y - sum keep`` arrivals:
- moves/evictions: ``max(0, A_c - P_c) <= moved_c <= min(D_c, A_c)``;
  ``moved_c = 0`` unless the class may move; ``D_c - moved_c = 0`` unless
  it may be evicted (protected namespaces allow neither);
- capacity: per node and resource (pod count and extended resources
  included) ``sum_c,s req[c,r] y[c,s] <= cap[n,r]``; per NUMA node with
  ``ceil(req/2)`` for split items;
- disruption budgets: ``sum_{c of o} D_c <= b_o``; move limit:
  ``sum moved_c <= max_moves``;
- anti-affinity (term ``t`` held by ``c``, domain ``d``): a presence literal
  ``z[c,d]`` with ``cnt(c,d) = 0`` unless ``z``; if ``z`` then no other class
  matched by ``t`` in ``d``, and at most one member of ``c`` if ``t``
  matches ``c``;
- affinity: if ``z[c,d]`` then a matching item in ``d`` other than the
  member itself (``>= 2`` when ``t`` matches ``c``), unless (first-pod rule)
  at most one placed item matches ``t`` at all;
- symmetry: interchangeable empty nodes (:func:`.candidates.symmetric_groups`)
  are ordered by decreasing load of one resource.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from optsched.solvers.placement.classes import ItemClass, Slot, node_slots
from optsched.solvers.placement.filters import numa_share
from optsched.solvers.placement.topology import Topology

Expr = Any  # cp_model linear expression


@dataclass
class PlacementModel:
    topo: Topology
    classes: list[ItemClass]
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    y: dict[tuple[int, Slot], cp_model.IntVar] = field(default_factory=dict)
    keep: dict[tuple[int, Slot], cp_model.IntVar] = field(default_factory=dict)
    moved: list[Expr] = field(default_factory=list)
    departed: list[Expr] = field(default_factory=list)
    evicted: list[Expr] = field(default_factory=list)
    placed: list[Expr] = field(default_factory=list)
    by_node: dict[int, list[tuple[int, Slot]]] = field(default_factory=lambda: defaultdict(list))
    by_class: dict[int, list[Slot]] = field(default_factory=lambda: defaultdict(list))
    ub: dict[tuple[int, Slot], int] = field(default_factory=dict)

    def slots(self, c: int, nodes: set[int] | None = None) -> list[Slot]:
        return self.by_class[c] if nodes is None else [s for s in self.by_class[c] if s[0] in nodes]

    def count(self, c: int, nodes: set[int] | None = None) -> Expr:
        return cp_model.LinearExpr.sum([self.y[c, s] for s in self.slots(c, nodes)])

    def count_all(self, classes: list[int], nodes: set[int] | None = None) -> tuple[Expr, int]:
        """The members of ``classes`` on ``nodes``, and how many variables."""
        ys = [self.y[c, s] for c in classes for s in self.slots(c, nodes)]
        return cp_model.LinearExpr.sum(ys), len(ys)


def build_model(
    topo: Topology, classes: list[ItemClass], cands: list[np.ndarray], symmetric: list[list[int]]
) -> PlacementModel:
    pm = PlacementModel(topo, classes)
    _add_count_variables(pm, cands)
    _add_flow(pm)
    _add_capacity(pm)
    _add_numa_capacity(pm)
    _add_disruption_budgets(pm)
    _add_move_limit(pm)
    _add_anti_affinity(pm)
    _add_affinity(pm)
    _add_symmetry_breaking(pm, symmetric)
    return pm


def _upper_bound(topo: Topology, c: ItemClass, n: int) -> int:
    req = topo.cc.requests[c.rep]
    cap = topo.cc.capacity[n]
    pos = req > 0
    fit = int((cap[pos] // req[pos]).min()) if pos.any() else c.size
    return max(0, min(c.size, fit))


def _add_count_variables(pm: PlacementModel, cands: list[np.ndarray]) -> None:
    # y[c,s]: members of class c on slot s; keep[c,s]: those that stay put
    m = pm.model
    for c, nodes in zip(pm.classes, cands, strict=True):
        arrive = c.pending or c.may_move
        for n in nodes:
            n = int(n)
            slots = node_slots(pm.topo, c, n) if arrive else []
            slots += [s for s in c.running if s[0] == n and s not in slots]
            ub = _upper_bound(pm.topo, c, n)
            for s in slots:
                run = len(c.running.get(s, ()))
                lb = run if not (c.may_move or c.may_evict) else 0
                hi = max(lb, ub if arrive else run)
                pm.y[c.index, s] = m.new_int_var(
                    lb, hi, f"y_{c.index}_{n}_{'_'.join(map(str, s[1]))}"
                )
                pm.ub[c.index, s] = hi
                pm.by_node[n].append((c.index, s))
                pm.by_class[c.index].append(s)


def _add_flow(pm: PlacementModel) -> None:
    # departures, arrivals, moves and evictions per class
    m = pm.model
    for c in pm.classes:
        keep = []
        for s, members in c.running.items():
            k = pm.keep[c.index, s] = m.new_int_var(0, len(members), f"keep_{c.index}_{s[0]}")
            m.add(k <= pm.y[c.index, s])
            keep.append(k)
        total = pm.count(c.index)
        kept = cp_model.LinearExpr.sum(keep)
        departed = c.n_running - kept
        arrived = total - kept
        moved = m.new_int_var(0, min(c.n_running, c.size) if c.may_move else 0, f"moved_{c.index}")
        m.add(moved >= arrived - len(c.pending))
        m.add(moved <= departed)
        m.add(moved <= arrived)
        if not c.may_evict:
            m.add(departed == moved)
        m.add(total <= c.size)
        pm.moved.append(moved)
        pm.departed.append(departed)
        pm.evicted.append(departed - moved)
        pm.placed.append(total)


def _add_capacity(pm: PlacementModel) -> None:
    # per node and resource: requests of the members on it within capacity
    req = pm.topo.cc.requests
    cap = pm.topo.cc.capacity
    for n, entries in pm.by_node.items():
        for r in range(cap.shape[1]):
            coeffs = [int(req[pm.classes[c].rep, r]) for c, _ in entries]
            if not any(coeffs):
                continue
            worst = sum(q * pm.ub[e] for q, e in zip(coeffs, entries, strict=True))
            if worst <= cap[n, r]:
                continue
            terms = [(pm.y[e], q) for q, e in zip(coeffs, entries, strict=True) if q]
            pm.model.add(
                cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [q for _, q in terms])
                <= int(cap[n, r])
            )


def _add_numa_capacity(pm: PlacementModel) -> None:
    # per NUMA node: single items whole, split items ceil(req / 2)
    topo = pm.topo
    if not topo.numa:
        return
    req = topo.cc.requests
    for n, entries in pm.by_node.items():
        for j in range(len(topo.cc.snapshot.nodes[n].numa)):
            on_j = [(c, s) for c, s in entries if j in s[1]]
            for r in range(req.shape[1]):
                terms = [
                    (pm.y[c, s], numa_share(int(req[pm.classes[c].rep, r]), len(s[1])))
                    for c, s in on_j
                ]
                terms = [(v, q) for v, q in terms if q]
                if terms:
                    expr = cp_model.LinearExpr.weighted_sum(
                        [v for v, _ in terms], [q for _, q in terms]
                    )
                    pm.model.add(expr <= int(topo.cc.numa_capacity[n, j, r]))


def _add_disruption_budgets(pm: PlacementModel) -> None:
    # at most b_o of an owner's items evicted or moved
    budgets = pm.topo.cc.snapshot.disruption_budgets
    per_owner: dict[str, list[Expr]] = defaultdict(list)
    for c in pm.classes:
        if c.owner and c.n_running:
            per_owner[c.owner].append(pm.departed[c.index])
    for owner, deps in per_owner.items():
        pm.model.add(cp_model.LinearExpr.sum(deps) <= int(budgets[owner]))


def _add_move_limit(pm: PlacementModel) -> None:
    limit = pm.topo.problem.max_moves
    if limit is not None:
        pm.model.add(cp_model.LinearExpr.sum(pm.moved) <= int(limit))


def _domain_nodes(pm: PlacementModel, key: str) -> dict[int, set[int]]:
    dom = pm.topo.domains[key]
    out: dict[int, set[int]] = defaultdict(set)
    for n in pm.by_node:
        if dom[n] >= 0:
            out[int(dom[n])].add(n)
    return out


def _matching_classes(pm: PlacementModel, t: int) -> list[int]:
    return [c.index for c in pm.classes if pm.topo.matches[t, c.rep]]


def _presence(pm: PlacementModel, c: int, nodes: set[int], name: str) -> tuple[Expr, Any] | None:
    if not pm.slots(c, nodes):
        return None
    cnt = pm.count(c, nodes)
    z = pm.model.new_bool_var(name)
    pm.model.add(cnt == 0).only_enforce_if(z.Not())
    return cnt, z


def _add_anti_affinity(pm: PlacementModel) -> None:
    # a holder's domain holds no other item its term matches
    topo = pm.topo
    for c in pm.classes:
        for t in topo.anti[c.rep]:
            term, _ = topo.terms[t]
            others = [o for o in _matching_classes(pm, t) if o != c.index]
            for d, nodes in _domain_nodes(pm, term.topology_key).items():
                pres = _presence(pm, c.index, nodes, f"anti_{c.index}_{t}_{d}")
                if pres is None:
                    continue
                cnt, z = pres
                if topo.matches[t, c.rep]:
                    pm.model.add(cnt <= 1)
                rest, k = pm.count_all(others, nodes)
                if k:
                    pm.model.add(rest == 0).only_enforce_if(z)


def _add_affinity(pm: PlacementModel) -> None:
    # a holder's domain holds another matching item, or it is the only one
    topo = pm.topo
    for c in pm.classes:
        for t in topo.aff[c.rep]:
            term, _ = topo.terms[t]
            matching = _matching_classes(pm, t)
            self_match = bool(topo.matches[t, c.rep])
            solo = None
            if self_match:
                solo = pm.model.new_bool_var(f"solo_{c.index}_{t}")
                pm.model.add(pm.count_all(matching)[0] <= 1).only_enforce_if(solo)
            for d, nodes in _domain_nodes(pm, term.topology_key).items():
                pres = _presence(pm, c.index, nodes, f"aff_{c.index}_{t}_{d}")
                if pres is None:
                    continue
                _, z = pres
                here, _ = pm.count_all(matching, nodes)
                need = 2 if self_match else 1
                lits = [z] if solo is None else [z, solo.Not()]
                pm.model.add(here >= need).only_enforce_if(lits)


def _add_symmetry_breaking(pm: PlacementModel, groups: list[list[int]]) -> None:
    # interchangeable empty nodes: load of the busiest resource non-increasing
    req = pm.topo.cc.requests
    col = int(np.argmax((req > 0).sum(axis=0))) if req.size else 0
    for group in groups:
        if not pm.by_node.get(group[0]):
            continue
        loads = []
        for n in group:
            entries = pm.by_node.get(n, [])
            coeffs = [int(req[pm.classes[c].rep, col]) for c, _ in entries]
            loads.append(cp_model.LinearExpr.weighted_sum([pm.y[e] for e in entries], coeffs))
        for a, b in zip(loads, loads[1:], strict=False):
            pm.model.add(a >= b)
