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
- anti-affinity (term ``t`` held by ``c``, domain ``d``): at most one member
  of ``c`` in ``d`` if ``t`` matches ``c``; a presence literal ``z[c,d]``
  (``c`` absent from ``d`` unless ``z``) and, if ``z``, no other class
  matched by ``t`` in ``d``;
- affinity (the terms held by ``c``; a peer matches all of them, as in
  kube's interpodaffinity filter): for each term and domain ``d``, if
  ``z[c,d]`` then a peer in ``d`` other than the member itself (``>= 2``
  peers when ``c`` matches its own terms), unless (first-pod rule) at most
  one placed item is a peer at all;
- symmetry: interchangeable empty nodes (:func:`.candidates.symmetric_groups`)
  are ordered by decreasing load of one resource.

Linear expressions are :class:`Lin` (variable indices, coefficients, a
constant) written straight into the proto (:mod:`optsched.solvers._cpsat`),
which keeps building fast at 10^5 variables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from optsched.solvers._cpsat import INT_MAX, add_linear, negated, new_var
from optsched.solvers.placement.classes import ItemClass, Slot, node_slots
from optsched.solvers.placement.filters import numa_share
from optsched.solvers.placement.topology import Topology


@dataclass
class Lin:
    """``sum(coeffs * vars) + const``."""

    vars: list[int] = field(default_factory=list)
    coeffs: list[int] = field(default_factory=list)
    const: int = 0

    @classmethod
    def total(cls, variables: list[int]) -> Lin:
        return cls(list(variables), [1] * len(variables))

    def plus(self, other: Lin, scale: int = 1) -> Lin:
        return Lin(
            self.vars + other.vars,
            self.coeffs + [scale * c for c in other.coeffs],
            self.const + scale * other.const,
        )

    def add(self, other: Lin, scale: int = 1) -> None:
        """In place ``self += scale * other``: sums built term by term stay
        linear in their size (``plus`` copies)."""
        self.vars.extend(other.vars)
        self.coeffs.extend(scale * c for c in other.coeffs)
        self.const += scale * other.const

    def scaled(self, k: int) -> Lin:
        return Lin(list(self.vars), [k * c for c in self.coeffs], k * self.const)

    def value(self, solution: list[int] | np.ndarray) -> int:
        return int(
            sum(c * int(solution[v]) for v, c in zip(self.vars, self.coeffs, strict=True))
            + self.const
        )


def constrain(
    model: cp_model.CpModel,
    e: Lin,
    lb: int = -INT_MAX,
    ub: int = INT_MAX,
    enforce: tuple[int, ...] = (),
) -> None:
    """``lb <= e <= ub`` (if every ``enforce`` literal holds)."""
    add_linear(
        model,
        e.vars,
        e.coeffs,
        lb - e.const if lb > -INT_MAX else lb,
        ub - e.const if ub < INT_MAX else ub,
        enforce,
    )


@dataclass
class PlacementModel:
    topo: Topology
    classes: list[ItemClass]
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    y: dict[tuple[int, Slot], int] = field(default_factory=dict)
    ub: dict[tuple[int, Slot], int] = field(default_factory=dict)
    keep: dict[tuple[int, Slot], int] = field(default_factory=dict)
    moved: list[int] = field(default_factory=list)
    departed: list[Lin] = field(default_factory=list)
    evicted: list[Lin] = field(default_factory=list)
    placed: list[Lin] = field(default_factory=list)
    by_node: dict[int, list[tuple[int, Slot]]] = field(default_factory=lambda: defaultdict(list))
    by_class: dict[int, list[Slot]] = field(default_factory=lambda: defaultdict(list))
    domain_index: dict[str, dict[int, dict[int, list[int]]]] = field(default_factory=dict)
    # variables defined by the counts (the packing terms): each with the
    # value it takes for given counts, so that a hint stays complete
    derived: list[tuple[int, Callable[[Mapping[tuple[int, Slot], int]], int]]] = field(
        default_factory=list
    )

    def count(self, c: int) -> Lin:
        return Lin.total([self.y[c, s] for s in self.by_class[c]])


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


def _fit_bounds(topo: Topology, c: ItemClass) -> np.ndarray:
    """[N] how many members of ``c`` each empty node could hold."""
    req = topo.cc.requests[c.rep]
    pos = req > 0
    if not pos.any():
        return np.full(topo.cc.n_nodes, c.size, dtype=np.int64)
    return np.minimum((topo.cc.capacity[:, pos] // req[pos]).min(axis=1), c.size)


def _add_count_variables(pm: PlacementModel, cands: list[np.ndarray]) -> None:
    # y[c,s]: members of class c on slot s (fixed members: lb = ub = run)
    for c, nodes in zip(pm.classes, cands, strict=True):
        arrive = bool(c.pending) or c.may_move
        fit = _fit_bounds(pm.topo, c)
        here = {s for s in c.running}
        for n in nodes:
            n = int(n)
            slots = node_slots(pm.topo, c, n) if arrive else []
            slots += [s for s in here if s[0] == n and s not in slots]
            for s in slots:
                run = len(c.running.get(s, ()))
                lb = run if not (c.may_move or c.may_evict) else 0
                hi = max(lb, int(fit[n]) if arrive else run)
                pm.y[c.index, s] = new_var(pm.model, lb, hi)
                pm.ub[c.index, s] = hi
                pm.by_node[n].append((c.index, s))
                pm.by_class[c.index].append(s)


def _add_flow(pm: PlacementModel) -> None:
    # departures, arrivals, moves and evictions per class
    m = pm.model
    for c in pm.classes:
        keep = []
        for s, members in c.running.items():
            k = pm.keep[c.index, s] = new_var(m, 0, len(members))
            add_linear(m, [k, pm.y[c.index, s]], [1, -1], ub=0)
            keep.append(k)
        total = pm.count(c.index)
        kept = Lin.total(keep)
        departed = Lin(const=c.n_running).plus(kept, -1)
        arrived = total.plus(kept, -1)
        moved = new_var(m, 0, min(c.n_running, c.size) if c.may_move else 0)
        mv = Lin([moved], [1])
        constrain(m, mv.plus(arrived, -1), lb=-len(c.pending))  # moved >= A - P
        constrain(m, mv.plus(departed, -1), ub=0)  # moved <= D
        constrain(m, mv.plus(arrived, -1), ub=0)  # moved <= A
        evicted = departed.plus(mv, -1)
        if not c.may_evict:
            constrain(m, evicted, lb=0, ub=0)
        constrain(m, total, ub=c.size)
        pm.moved.append(moved)
        pm.departed.append(departed)
        pm.evicted.append(evicted)
        pm.placed.append(total)


def _add_capacity(pm: PlacementModel) -> None:
    # per node and resource: requests of the members on it within capacity
    req = pm.topo.cc.requests
    cap = pm.topo.cc.capacity
    for n, entries in pm.by_node.items():
        reps = [pm.classes[c].rep for c, _ in entries]
        ys = [pm.y[e] for e in entries]
        ubs = np.array([pm.ub[e] for e in entries])
        for r in range(cap.shape[1]):
            coeffs = req[reps, r]
            if int((coeffs * ubs).sum()) <= cap[n, r]:
                continue
            nz = np.nonzero(coeffs)[0]
            add_linear(pm.model, [ys[i] for i in nz], coeffs[nz].tolist(), ub=int(cap[n, r]))


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
                    cap = int(topo.cc.numa_capacity[n, j, r])
                    add_linear(pm.model, [v for v, _ in terms], [q for _, q in terms], ub=cap)


def _add_disruption_budgets(pm: PlacementModel) -> None:
    # at most b_o of an owner's items evicted or moved
    budgets = pm.topo.cc.snapshot.disruption_budgets
    per_owner: dict[str, Lin] = {}
    for c in pm.classes:
        if c.owner and c.n_running:
            per_owner.setdefault(c.owner, Lin()).add(pm.departed[c.index])
    for owner, deps in per_owner.items():
        constrain(pm.model, deps, ub=int(budgets[owner]))


def _add_move_limit(pm: PlacementModel) -> None:
    # at most max_moves items change node
    limit = pm.topo.problem.max_moves
    if limit is not None:
        add_linear(pm.model, pm.moved, [1] * len(pm.moved), ub=int(limit))


def _by_domain(pm: PlacementModel, key: str) -> dict[int, dict[int, list[int]]]:
    """domain -> class -> its count variables on that domain's nodes (built
    once per topology key, so that each constraint is linear in its size)."""
    cached = pm.domain_index.get(key)
    if cached is not None:
        return cached
    dom = pm.topo.domains[key]
    out: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (c, s), var in pm.y.items():
        d = int(dom[s[0]])
        if d >= 0:
            out[d][c].append(var)
    pm.domain_index[key] = out
    return out


def _matching_classes(pm: PlacementModel, t: int) -> list[int]:
    return [c.index for c in pm.classes if pm.topo.matches[t, c.rep]]


def _in_domain(per_class: dict[int, list[int]], classes: list[int]) -> list[int]:
    return [v for c in classes for v in per_class.get(c, ())]


def _presence(pm: PlacementModel, ys: list[int]) -> int:
    """A literal that is true whenever any of ``ys`` is positive."""
    z = new_var(pm.model, 0, 1)
    add_linear(pm.model, ys, [1] * len(ys), ub=0, enforce=(negated(z),))
    return z


def _add_anti_affinity(pm: PlacementModel) -> None:
    # a holder's domain holds no other item its term matches
    topo = pm.topo
    for c in pm.classes:
        for t in topo.anti[c.rep]:
            term, _ = topo.terms[t]
            others = [o for o in _matching_classes(pm, t) if o != c.index]
            for per_class in _by_domain(pm, term.topology_key).values():
                mine = per_class.get(c.index)
                if not mine:
                    continue
                if topo.matches[t, c.rep]:
                    add_linear(pm.model, mine, [1] * len(mine), ub=1)
                rest = _in_domain(per_class, others)
                if rest:
                    z = _presence(pm, mine)
                    add_linear(pm.model, rest, [1] * len(rest), ub=0, enforce=(z,))


def _add_affinity(pm: PlacementModel) -> None:
    # a holder's domain holds a peer (an item matching all its terms), or it
    # is the only peer placed at all
    topo = pm.topo
    for c in pm.classes:
        g = int(topo.aff_group[c.rep])
        if g < 0:
            continue
        matching = [o.index for o in pm.classes if topo.aff_matches[g, o.rep]]
        self_match = bool(topo.aff_matches[g, c.rep])
        lits: tuple[int, ...] = ()
        if self_match:
            solo = new_var(pm.model, 0, 1)
            every = [pm.y[o, s] for o in matching for s in pm.by_class[o]]
            add_linear(pm.model, every, [1] * len(every), ub=1, enforce=(solo,))
            lits = (negated(solo),)
        for t in topo.aff_groups[g]:
            term, _ = topo.terms[t]
            for per_class in _by_domain(pm, term.topology_key).values():
                mine = per_class.get(c.index)
                if not mine:
                    continue
                z = _presence(pm, mine)
                here = _in_domain(per_class, matching)
                add_linear(
                    pm.model, here, [1] * len(here), lb=2 if self_match else 1, enforce=(z, *lits)
                )


def _add_symmetry_breaking(pm: PlacementModel, groups: list[list[int]]) -> None:
    # interchangeable empty nodes: load of the busiest resource non-increasing
    req = pm.topo.cc.requests
    col = int(np.argmax((req > 0).sum(axis=0))) if req.size else 0
    for group in groups:
        if not pm.by_node.get(group[0]):
            continue
        loads = []
        for n in group:
            entries = pm.by_node[n]
            loads.append(
                Lin(
                    [pm.y[e] for e in entries],
                    [int(req[pm.classes[c].rep, col]) for c, _ in entries],
                )
            )
        for a, b in zip(loads, loads[1:], strict=False):
            constrain(pm.model, a.plus(b, -1), lb=0)


def forbid_counts(pm: PlacementModel, counts: dict[tuple[int, Slot], int]) -> None:
    """A no-good: at least one count variable differs from ``counts`` (missing
    keys read as 0). Used to cut off a solution whose final assignment no
    plan can reach (:func:`.plan.plan_violations`)."""
    differs = []
    for key, var in pm.y.items():
        lo, hi = pm.model.proto.variables[var].domain[0], pm.model.proto.variables[var].domain[-1]
        v = int(counts.get(key, 0))
        domain = [d for a, b in ((lo, v - 1), (v + 1, hi)) if a <= b for d in (a, b)]
        if not domain:
            continue
        b = new_var(pm.model, 0, 1)
        ct = pm.model.proto.constraints.add()
        ct.enforcement_literal.append(b)
        ct.linear.vars.append(var)
        ct.linear.coeffs.append(1)
        ct.linear.domain.extend(domain)
        differs.append(b)
    pm.model.proto.constraints.add().bool_or.literals.extend(differs)
