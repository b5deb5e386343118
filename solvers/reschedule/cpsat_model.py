"""Exact CP-SAT model of VM rescheduling over VM classes (:mod:`.classes`).

Scope: a set of hosts ``H`` (all hosts for the exact solver, a freed subset
for LNS); the movable VMs on them are aggregated into classes, every other
VM stays and is part of each unit's background use.

Sets
    ``C`` classes; ``H`` hosts in scope; ``P(c, h)`` placements of class
    ``c``'s width on host ``h`` (NUMA tuples, see :mod:`.state`); ``U`` units
    ``(h, k)`` of hosts in scope.
Data
    ``n_c`` VMs of class ``c``; ``init[c, h, p]`` of them on ``(h, p)`` now;
    ``s_c`` its per-NUMA share and ``q_c`` its request; ``base[h, k]`` the free
    resources of a unit with every class VM removed (capacity less reservation
    less VMs that stay); ``F`` the fragment size; ``MNL`` the migration limit.
Variables
    ``x[c, h, p]`` integer: VMs of ``c`` on ``(h, p)`` at the end, where
    ``c`` may arrive (``h`` a destination in ``c``'s cluster, ``p`` of ``c``'s
    width on NUMA slots of ``h``) or ``init > 0``; at a start position where
    ``c`` may not arrive, ``x <= init``: a VM in another cluster than its
    host's, or a split VM sitting whole on a host without NUMA layout (which
    uses its whole request there, not the share ``s_c``), may stay.
    ``o[c, h, p]`` integer in ``[0, init]``: VMs of ``c`` leaving ``(h, p)``,
    at every start position. ``slots[h, k]`` integer and
    ``rem[h, k]`` in ``[0, F - 1]`` for counted units.
Constraints
    * conservation: ``sum_{h, p} x[c, h, p] = n_c`` (a VM ends at its start
      or in its cluster);
    * capacity: ``sum_{c, p ∋ k} s_c x[c, h, p] <= base[h, k]`` per resource,
      and the host-level request sum within the host's free amount where the
      NUMA constraints do not imply it;
    * migration limit: ``o >= init - x`` and ``sum o <= MNL``;
    * anti-affinity (symmetric groups, e.g. deployment sets): per group and
      topology domain, at most one member at the end (members that stay
      count); a domain already holding more than one receives none;
    * slot counting: ``e[h, k] = F * slots[h, k] + rem[h, k]`` with ``e`` the
      unit's free CPU (memory-aware: ``min(free CPU, free memory // m)``).
Objective
    ``FR = R / T`` with ``R = R_fixed + sum rem`` and ``T = T_fixed + sum e``
    (``*_fixed``: counted units outside the scope). A migration takes CPU from
    one unit and gives it to another; reservations never move; destinations
    are schedulable hosts and every schedulable host counts (excluded ones
    too). So ``T`` is the same for every plan unless a VM in scope starts on a
    host that does not count (it may leave it, adding to no counted unit's
    free CPU) or the variant is memory-aware: then (``constant_free`` False)
    :func:`set_ratio_objective` is used by Dinkelbach's method; otherwise
    minimizing ``sum rem`` minimizes FR exactly.

Bound (measured, issue 4). The LP relaxation moves fractions of VMs, so every
unit's free CPU can be made a multiple of F at no migration cost: the root
bound is ``Q <= T / F`` (87 slots on the medium snapshot, i.e. FR >= 0.0014);
:mod:`.bound` computes a valid, much tighter bound outside the model (its
configuration bound meets the optimum on the medium and large instances
measured, so the exact solver stops as soon as a plan reaches it). As a
cut (:func:`add_remainder_bound`) that bound made the search worse (off by
default, see :class:`.exact.CpsatArgs`). Without it the proofs come from the
search:
with CP-SAT's "max_lp" worker (:class:`.exact.CpsatArgs`) the optimum on
medium is proven in 6-8 s at MNL 10, 20-24 s at MNL 25 and 11-26 s at
MNL 50 on most instances. Tried and not kept (medium, seed-0 generated
instance, MNL 10, 2 workers): a one-hot table per unit over the reachable free
values (``e``, ``rem`` and ``slots`` as linear functions of the booleans) with
a per-unit lower bound on the moves touching the unit (BFS over the VM shares
that can leave or enter it, ``touches >= sum need_v * b_v``). It triples the
model (25k variables), the root LP still reports 87 slots after 40 s, and the
search found no solution at all (the greedy hint does not cover the new
booleans). Probing (``cp_model_probing_level``) took ~3 s of presolve on the
medium model for nothing: it is off (:class:`.exact.CpsatArgs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from optsched.errors import DomainError
from optsched.solvers.reschedule.classes import Slot, VmClass
from optsched.solvers.reschedule.state import RescheduleState, unit_terms

Key = tuple[int, int, int]  # (class, host, placement)


@dataclass
class ClassModel:
    state: RescheduleState
    classes: list[VmClass]
    hosts: np.ndarray
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: dict[Key, cp_model.IntVar] = field(default_factory=dict)
    out: dict[Key, cp_model.IntVar] = field(default_factory=dict)
    init: dict[Key, int] = field(default_factory=dict)
    rem: list[cp_model.IntVar] = field(default_factory=list)
    eff: list[cp_model.LinearExprT] = field(default_factory=list)
    unit_vars: list[tuple[int, int, list[cp_model.IntVar]]] = field(default_factory=list)
    frag_fixed: int = 0
    free_fixed: int = 0
    constant_free: bool = True

    def counts(self, value: Mapping[Key, int]) -> list[dict[Slot, int]]:
        """Per class, the final count on every (host, placement)."""
        out: list[dict[Slot, int]] = [{} for _ in self.classes]
        for (c, h, p), n in value.items():
            if n > 0:
                out[c][(h, p)] = n
        return out


def build(
    state: RescheduleState,
    classes: list[VmClass],
    hosts: np.ndarray,
    migration_limit: int,
    origin: RescheduleState | None = None,
) -> ClassModel:
    """The model of moving ``classes`` among ``hosts`` with at most
    ``migration_limit`` moves. Migrations are counted against ``origin``
    (default ``state``): LNS re-optimizes part of a plan, and a VM counts as
    moved when it ends anywhere but where it was in the snapshot; class VMs
    whose origin host is outside the scope count as moved wherever they end."""
    cm = ClassModel(state, classes, np.asarray(hosts, dtype=np.int64))
    base, base_host = _base_free(cm)
    in_scope = np.zeros(state.n_hosts, dtype=bool)
    in_scope[cm.hosts] = True
    start = origin or state
    forced = 0
    for cls in classes:
        for (h, p), n in cls.initial_counts(start).items():
            if in_scope[h]:
                cm.init[(classes.index(cls), h, p)] = n
            else:
                forced += n
    _add_variables(cm, base)
    _add_conservation(cm)
    _add_capacity(cm, base, base_host)
    _add_migration_limit(cm, migration_limit - forced)
    _add_anti_affinity(cm)
    _add_slots(cm, base)
    return cm


def _base_free(cm: ClassModel) -> tuple[np.ndarray, np.ndarray]:
    """Free resources per unit and per host with every class VM removed."""
    st = cm.state
    base, base_host = st.numa_free.copy(), st.host_free.copy()
    for cls in cm.classes:
        for v in cls.vms:
            h, numa = st.placement_of(v)
            base[h, list(numa)] += st.usage(v, numa)
            base_host[h] += st.vm_req[v]
    return base, base_host


def unit_use(cls: VmClass, placement: tuple[int, ...]) -> np.ndarray:
    """[R] what one VM of ``cls`` uses on each NUMA slot of ``placement``:
    its share on a placement of the class's width, and its whole request
    where a split VM sits on the single unit of a host without NUMA layout
    (the state's :meth:`~.state.RescheduleState.usage`)."""
    return np.asarray(cls.request, dtype=np.int64) // len(placement)


def receives(st: RescheduleState, cls: VmClass, h: int, placement: tuple[int, ...]) -> bool:
    """Whether VMs of ``cls`` may move to ``(h, placement)``: a destination in
    the class's cluster, a placement of the class's width on NUMA slots that
    exist on ``h``."""
    return bool(
        st.host_dest[h]
        and st.host_cluster[h] == cls.cluster
        and len(placement) == cls.width
        and st.numa_valid[h, list(placement)].all()
    )


def _add_variables(cm: ClassModel, base: np.ndarray) -> None:
    # a count wherever the class may arrive, and at every start position, which
    # may be one no VM of the class can move to (a VM in another cluster than
    # its host's, a split VM on a host without NUMA layout): there ``x <= init``
    st = cm.state
    for c, cls in enumerate(cm.classes):
        for h in (int(x) for x in cm.hosts):
            for p, ks in enumerate(st.placements):
                n0 = cm.init.get((c, h, p), 0)
                arrive = receives(st, cls, h, ks)
                if n0 == 0 and not arrive:
                    continue
                ub = len(cls.vms) if arrive else n0
                use = unit_use(cls, ks)
                for r in np.nonzero(use > 0)[0]:
                    ub = min(ub, int(base[h, list(ks), r].min() // use[r]))
                ub = max(ub, n0)
                key = (c, h, p)
                cm.x[key] = cm.model.new_int_var(0, ub, f"x_{c}_{h}_{p}")
                if n0 > 0:
                    cm.out[key] = cm.model.new_int_var(0, n0, f"o_{c}_{h}_{p}")


def _add_conservation(cm: ClassModel) -> None:
    # every VM of a class ends somewhere in scope (its own cluster)
    per_class: dict[int, list[cp_model.IntVar]] = {}
    for (c, _, _), var in cm.x.items():
        per_class.setdefault(c, []).append(var)
    for c, cls in enumerate(cm.classes):
        cm.model.add(cp_model.LinearExpr.sum(per_class.get(c, [])) == len(cls.vms))


def _add_capacity(cm: ClassModel, base: np.ndarray, base_host: np.ndarray) -> None:
    # per NUMA node and resource, and per host where the NUMA nodes do not imply it
    st = cm.state
    per_unit: dict[tuple[int, int], list[tuple[int, np.ndarray, cp_model.IntVar]]] = {}
    host_use: dict[int, list[tuple[np.ndarray, cp_model.IntVar]]] = {}
    for (c, h, p), var in cm.x.items():
        cls = cm.classes[c]
        use = unit_use(cls, st.placements[p])
        for k in st.placements[p]:
            per_unit.setdefault((h, k), []).append((c, use, var))
        host_use.setdefault(h, []).append((np.asarray(cls.request), var))
    for (h, k), terms in per_unit.items():
        for r in range(len(st.resources)):
            coef = [(int(s[r]), v) for _, s, v in terms if s[r] > 0]
            if coef:
                expr = cp_model.LinearExpr.weighted_sum([v for _, v in coef], [a for a, _ in coef])
                cm.model.add(expr <= int(base[h, k, r]))
    for host, reqs in host_use.items():
        numa_sum = base[host][st.numa_valid[host]].sum(axis=0)
        for res in np.nonzero(base_host[host] < numa_sum)[0]:
            expr = cp_model.LinearExpr.weighted_sum(
                [v for _, v in reqs], [int(q[res]) for q, _ in reqs]
            )
            cm.model.add(expr <= int(base_host[host, res]))


def _add_migration_limit(cm: ClassModel, migration_limit: int) -> None:
    # a VM leaving its (origin) placement is one migration
    if migration_limit < 0:
        raise ValueError("the plan outside the scope already exceeds the migration limit")
    for key, o in cm.out.items():
        cm.model.add(o >= cm.init[key] - cm.x[key])
    cm.model.add(cp_model.LinearExpr.sum(list(cm.out.values())) <= migration_limit)


def _add_anti_affinity(cm: ClassModel) -> None:
    # symmetric groups: at most one member per topology domain at the end
    st = cm.state
    for g, group in enumerate(st.groups):
        in_group = [c for c, cls in enumerate(cm.classes) if any(r[0] == g for r in cls.roles)]
        if not in_group:
            continue
        if not group.symmetric:
            item = st.vm_ids[cm.classes[in_group[0]].vms[0]]
            raise DomainError(
                f"items[{item}].anti_affinity",
                "the exact model supports symmetric anti-affinity (deployment sets) only",
            )
        modelled = np.zeros(group.n_domains, dtype=np.int64)
        for c in in_group:
            for (h, _), n in cm.classes[c].initial_counts(st).items():
                if group.host_domain[h] >= 0:
                    modelled[group.host_domain[h]] += n
        fixed = st.members_in[g] - modelled
        by_domain: dict[int, list[Key]] = {}
        for key in cm.x:
            d = int(group.host_domain[key[1]])
            if key[0] in in_group and d >= 0:
                by_domain.setdefault(d, []).append(key)
        for d, keys in by_domain.items():
            if int(st.members_in[g][d]) <= 1:
                cm.model.add(int(fixed[d]) + sum(cm.x[k] for k in keys) <= 1)
            else:  # a domain already in violation receives no member
                for k in keys:
                    cm.model.add(cm.x[k] <= cm.init.get(k, 0))


def _add_slots(cm: ClassModel, base: np.ndarray) -> None:
    # free = F * slots + rem per counted unit; R and T outside the scope are constants
    st, prob = cm.state, cm.state.problem
    f = prob.fragment_cores
    in_scope = np.zeros(st.n_hosts, dtype=bool)
    in_scope[cm.hosts] = True
    counted = st.counted_units()
    rem, eff = unit_terms(*st.unit_free(), f, prob.memory_per_core_mb)
    outside = counted & ~in_scope[:, None]
    cm.frag_fixed, cm.free_fixed = int(rem[outside].sum()), int(eff[outside].sum())
    starts_uncounted = any(
        not st.host_counted[st.vm_host[v]] for cls in cm.classes for v in cls.vms
    )
    cm.constant_free = not prob.memory_aware and not starts_uncounted
    use: dict[tuple[int, int], list[tuple[int, int, cp_model.IntVar]]] = {}
    for (c, h, p), var in cm.x.items():
        share = unit_use(cm.classes[c], st.placements[p])
        mem = int(share[st.mem_col]) if st.mem_col >= 0 else 0
        for k in st.placements[p]:
            use.setdefault((h, k), []).append((int(share[st.cpu_col]), mem, var))
    for h in (int(x) for x in cm.hosts):
        for k in (int(x) for x in np.nonzero(counted[h])[0]):
            terms = use.get((h, k), [])
            cpu0 = int(base[h, k, st.cpu_col])
            free_cpu = cpu0 - cp_model.LinearExpr.weighted_sum(
                [v for _, _, v in terms], [a for a, _, _ in terms]
            )
            e: cp_model.LinearExprT = free_cpu
            aux: list[cp_model.IntVar] = []  # memory-aware: free mem, free cpu, mem cores, e
            if st.mem_col >= 0:
                mem0 = int(base[h, k, st.mem_col])
                fm = cm.model.new_int_var(0, mem0, f"fm_{h}_{k}")
                used = cp_model.LinearExpr.weighted_sum(
                    [v for _, _, v in terms], [b for _, b, _ in terms]
                )
                cm.model.add(fm == mem0 - used)
                fc = cm.model.new_int_var(0, cpu0, f"fc_{h}_{k}")
                cm.model.add(fc == free_cpu)
                mc = cm.model.new_int_var(0, mem0 // prob.memory_per_core_mb, f"mc_{h}_{k}")
                cm.model.add_division_equality(mc, fm, prob.memory_per_core_mb)
                ev = cm.model.new_int_var(0, cpu0, f"e_{h}_{k}")
                cm.model.add_min_equality(ev, [fc, mc])
                e, aux = ev, [fm, fc, mc, ev]
            slots = cm.model.new_int_var(0, cpu0 // f, f"q_{h}_{k}")
            r = cm.model.new_int_var(0, f - 1, f"r_{h}_{k}")
            cm.model.add(e == f * slots + r)
            cm.rem.append(r)
            cm.eff.append(e)
            cm.unit_vars.append((h, k, [slots, r, *aux]))


def set_slot_objective(cm: ClassModel) -> int:
    """Maximize the number of whole F-core slots ``Q = sum slots``; with a
    constant denominator ``sum rem = T_scope - F * Q``, so this minimizes the
    fragment rate exactly (CP-SAT searches this form better). Adds the valid
    cut ``F * Q <= T_scope`` and returns ``T_scope``."""
    f = cm.state.problem.fragment_cores
    t_scope = cm.state.free_sum - cm.free_fixed
    slots = [v[0] for _, _, v in cm.unit_vars]
    cm.model.add(f * cp_model.LinearExpr.sum(slots) <= t_scope)
    cm.model.maximize(cp_model.LinearExpr.sum(slots))
    return t_scope


def add_remainder_bound(cm: ClassModel, frag_lb: int, free_constant: bool) -> None:
    """The valid cut ``R >= frag_lb`` from :mod:`.bound` (computed outside the
    model; valid here too: every model solution is a final state with at most
    ``MNL`` VMs displaced, which the bound covers): ``sum rem >= frag_lb -
    R_fixed`` and, when ``T`` is ``T0`` for every plan (``free_constant``,
    :attr:`.bound.RemainderBound.conserved`, and the model's own
    ``constant_free``), ``F * Q <= R_fixed + T_scope - frag_lb``, so that
    CP-SAT's objective bound meets an incumbent that reaches it and the
    search stops (proven)."""
    cm.model.add(cp_model.LinearExpr.sum(cm.rem) >= frag_lb - cm.frag_fixed)
    if cm.constant_free and free_constant:
        f = cm.state.problem.fragment_cores
        t_scope = cm.state.free_sum - cm.free_fixed
        slots = [v[0] for _, _, v in cm.unit_vars]
        cm.model.add(f * cp_model.LinearExpr.sum(slots) <= cm.frag_fixed + t_scope - frag_lb)


def set_ratio_objective(cm: ClassModel, frag_weight: int, free_weight: int) -> None:
    """Minimize ``frag_weight * R - free_weight * T`` (Dinkelbach's
    parametric objective; ``(1, 0)`` minimizes ``R``)."""
    cm.model.minimize(
        frag_weight * cp_model.LinearExpr.sum(cm.rem)
        - free_weight * cp_model.LinearExpr.sum(list(cm.eff))
    )


def hint(cm: ClassModel, final: RescheduleState) -> None:
    """Hint every variable with ``final``, a state reached from the model's
    start by moves of class VMs (e.g. the greedy answer): a complete hint."""
    counts = final_counts(cm, final)
    cm.model.clear_hints()
    for key, var in cm.x.items():
        cm.model.add_hint(var, int(counts.get(key, 0)))
    for key, o in cm.out.items():
        cm.model.add_hint(o, max(0, cm.init[key] - int(counts.get(key, 0))))
    prob, f = final.problem, final.problem.fragment_cores
    for h, k, variables in cm.unit_vars:
        cpu = int(final.numa_free[h, k, final.cpu_col])
        if len(variables) == 2:
            eff = cpu
        else:
            mem = int(final.numa_free[h, k, final.mem_col])
            mem_cores = mem // prob.memory_per_core_mb
            eff = min(cpu, mem_cores)
            for var, value in zip(variables[2:], (mem, cpu, mem_cores, eff), strict=True):
                cm.model.add_hint(var, value)
        cm.model.add_hint(variables[0], eff // f)
        cm.model.add_hint(variables[1], eff % f)


def final_counts(cm: ClassModel, state: RescheduleState) -> dict[Key, int]:
    """The counts ``x`` of ``state`` (e.g. after greedy moves), for :func:`hint`."""
    index = {v: c for c, cls in enumerate(cm.classes) for v in cls.vms}
    out: dict[Key, int] = {}
    for v, c in index.items():
        key = (c, int(state.vm_host[v]), int(state.vm_place[v]))
        out[key] = out.get(key, 0) + 1
    return out
