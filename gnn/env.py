"""The rescheduling environment: ``B`` copies of one problem stepped together.

One step is one migration or stop. Actions are two-stage, as in VMR2L (Ding et
al., EuroSys 2025): first a VM index ``v`` in ``[0, M]`` (``M`` means stop),
then a destination unit ``u`` in ``[0, H * S)``: host ``u // S`` and NUMA slot
``u % S``. A split VM uses both NUMA nodes of its destination host and is
always named by slot 0 of that host.

Reward: with ``FR_t`` the fragment rate after ``t`` migrations,
``r_t = REWARD_SCALE * (FR_{t-1} - FR_t)``, so an episode's return is the
fragment-rate reduction of the plan (in percentage points); while total free
CPU is unchanged this is the reduction in fragmented cores divided by the free
cores. An episode ends on stop or after ``migration_limit`` migrations.

Masks (:meth:`RescheduleEnv.vm_mask`, :meth:`RescheduleEnv.dest_mask`) allow
exactly the moves that keep every rule of :mod:`optsched.gnn.instance` true
when applied to the current state, so a plan built from masked actions is
executable in its order by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optsched.gnn.instance import NUMA_SLOTS, Instance
from optsched.model import CPU_MILLIS, Assignment
from optsched.results import Action, ActionKind, Plan

REWARD_SCALE = 100.0
MILLIS_PER_CORE = 1000
Move = tuple[int, int, int]  # (vm, source unit, destination unit)


@dataclass
class State:
    """Mutable state of ``B`` copies (shapes in the module docstring)."""

    host_of: np.ndarray  # [B, M] int
    slots: np.ndarray  # [B, M, S] bool: NUMA slots each VM uses
    unit_free: np.ndarray  # [B, H, S, R] int
    host_free: np.ndarray  # [B, H, R] int
    member_count: list[np.ndarray]  # per anti-affinity group: [B, D] members per domain
    holder_count: list[np.ndarray]  # per anti-affinity group: [B, D] holders per domain
    moved: np.ndarray  # [B, M] int: migrations of each VM so far
    owner_moves: np.ndarray  # [B, O] int: moves counted against each disruption budget
    steps: np.ndarray  # [B] int
    done: np.ndarray  # [B] bool
    moves: list[list[Move]] = field(default_factory=list)

    @property
    def n_copies(self) -> int:
        return int(self.host_of.shape[0])


class RescheduleEnv:
    """Steps ``B`` copies of ``inst`` with a migration limit (the problem's
    MNL unless ``migration_limit`` is given)."""

    def __init__(self, inst: Instance, migration_limit: int | None = None) -> None:
        self.inst = inst
        self.limit = inst.problem.migration_limit if migration_limit is None else migration_limit
        # the validator's convention: cores count in thousands on a cpu_millis resource
        self.cpu_scale = MILLIS_PER_CORE if inst.problem.cpu_resource == CPU_MILLIS else 1
        self.fragment_cores = inst.problem.fragment_cores * self.cpu_scale
        counted = inst.host_counted[:, None] & inst.unit_valid
        self._counted = counted.astype(np.int64)  # [H, S]
        self._vm_groups: dict[int, list[int]] = {}
        for g, grp in enumerate(inst.groups):
            for m in np.nonzero(grp.member | grp.holder)[0]:
                self._vm_groups.setdefault(int(m), []).append(g)

    # -- state -------------------------------------------------------------
    def reset(self, n_copies: int) -> State:
        inst = self.inst
        b = n_copies
        unit_free = np.broadcast_to(inst.unit_cap, (b, *inst.unit_cap.shape)).copy()
        host_free = np.broadcast_to(inst.host_cap, (b, *inst.host_cap.shape)).copy()
        for m in range(inst.n_vms):
            h = inst.init_host[m]
            unit_free[:, h, inst.init_slots[m]] -= inst.vm_share[m]
            host_free[:, h] -= inst.vm_req[m]
        members, holders = [], []
        for grp in inst.groups:
            dom = grp.domain_of_host[inst.init_host]
            members.append(np.tile(_count(dom[grp.member], grp.n_domains), (b, 1)))
            holders.append(np.tile(_count(dom[grp.holder], grp.n_domains), (b, 1)))
        return State(
            host_of=np.tile(inst.init_host, (b, 1)),
            slots=np.tile(inst.init_slots, (b, 1, 1)),
            unit_free=unit_free,
            host_free=host_free,
            member_count=members,
            holder_count=holders,
            moved=np.zeros((b, inst.n_vms), dtype=np.int64),
            owner_moves=np.zeros((b, len(inst.owner_budget)), dtype=np.int64),
            steps=np.zeros(b, dtype=np.int64),
            done=np.full(b, self.limit == 0),
            moves=[[] for _ in range(b)],
        )

    def free_cpu(self, state: State) -> np.ndarray:
        """``[B, H, S]`` free CPU per unit as the objective sees it: limited
        by free memory at ``memory_per_core_mb`` when the problem is
        memory-aware."""
        inst, p = self.inst, self.inst.problem
        free = np.maximum(state.unit_free[..., inst.cpu], 0)
        if p.memory_aware and inst.mem >= 0:
            mem = np.maximum(state.unit_free[..., inst.mem], 0)
            free = np.minimum(free, mem // p.memory_per_core_mb * self.cpu_scale)
        return free

    def fragment_rate(self, state: State) -> np.ndarray:
        """``[B]``: ``sum(free mod F) / sum(free)`` over counted units."""
        free = self.free_cpu(state) * self._counted
        total = free.sum(axis=(1, 2))
        frag = (free % self.fragment_cores).sum(axis=(1, 2))
        return np.where(total > 0, frag / np.maximum(total, 1), 0.0)

    # -- masks -------------------------------------------------------------
    def class_fit(self, state: State) -> np.ndarray:
        """``[B, C, H, S]`` bool: a VM of class ``c`` (not yet on the host)
        may land on unit ``(h, s)``; a split class only on slot 0."""
        inst = self.inst
        req = np.where(inst.class_split[:, None], 2 * inst.class_need, inst.class_need)
        unit_ok = np.broadcast_to(
            inst.unit_valid, (state.n_copies, len(req), *inst.unit_valid.shape)
        )
        host_ok = np.broadcast_to(inst.class_allowed, (state.n_copies, *inst.class_allowed.shape))
        # one comparison per resource: a trailing reduction over R (about 2) costs more
        for r in range(len(inst.resources)):
            need = inst.class_need[None, :, None, None, r]
            unit_ok = unit_ok & (state.unit_free[:, None, :, :, r] >= need)  # [B, C, H, S]
            host_ok = host_ok & (state.host_free[:, None, :, r] >= req[None, :, None, r])
        fit = unit_ok & host_ok[..., None]
        split = inst.class_split
        fit[:, split, :, 0] = fit[:, split, :, 0] & fit[:, split, :, 1]
        fit[:, split, :, 1] = False
        return fit

    def vm_mask(self, state: State, fit: np.ndarray | None = None) -> np.ndarray:
        """``[B, M + 1]`` bool: VMs with at least one allowed destination, and
        stop (always allowed). A finished copy allows only stop."""
        inst = self.inst
        fit = self.class_fit(state) if fit is None else fit
        b_idx = np.arange(state.n_copies)[:, None]
        per_class = fit.sum(axis=(2, 3))  # [B, C]
        own = fit[b_idx, inst.vm_class[None, :], state.host_of].sum(-1)  # [B, M]
        ok = (per_class[:, inst.vm_class] - own > 0) | self._other_slot(state)
        ok &= inst.vm_movable[None] & self._within_budget(state)
        for m in self._vm_groups:
            for b in np.nonzero(ok[:, m])[0]:
                ok[b, m] = bool(self._dest_row(state, fit, int(b), m).any())
        ok &= ~state.done[:, None]
        return np.concatenate([ok, np.ones((state.n_copies, 1), dtype=bool)], axis=1)

    def _within_budget(self, state: State) -> np.ndarray:
        """``[B, M]``: the VM's owner may still move a VM."""
        owner = self.inst.vm_owner
        if not len(self.inst.owner_budget):
            return np.ones((state.n_copies, len(owner)), dtype=bool)
        left = state.owner_moves < self.inst.owner_budget[None]  # [B, O]
        return np.where(owner >= 0, left[:, np.maximum(owner, 0)], True)

    def _other_slot(self, state: State) -> np.ndarray:
        """``[B, M]``: a single-NUMA VM may move to the other NUMA node of
        its own host (the host-level use is unchanged)."""
        inst = self.inst
        b_idx = np.arange(state.n_copies)[:, None]
        other = 1 - np.argmax(state.slots, axis=-1)  # [B, M]
        free = state.unit_free[b_idx, state.host_of, other]  # [B, M, R]
        ok = (free >= inst.vm_req[None]).all(-1) & inst.unit_valid[state.host_of, other]
        return ok & ~inst.vm_split[None] & inst.class_allowed[inst.vm_class[None], state.host_of]

    def dest_mask(self, state: State, vm: np.ndarray, fit: np.ndarray | None = None) -> np.ndarray:
        """``[B, H * S]`` bool: allowed destination units for VM ``vm[b]`` in
        copy ``b`` (all False where ``vm[b]`` is stop)."""
        fit = self.class_fit(state) if fit is None else fit
        out = np.zeros((state.n_copies, self.inst.n_units), dtype=bool)
        for b in range(state.n_copies):
            if vm[b] < self.inst.n_vms:
                out[b] = self._dest_row(state, fit, b, int(vm[b])).reshape(-1)
        return out

    def _dest_row(self, state: State, fit: np.ndarray, b: int, m: int) -> np.ndarray:
        """``[H, S]`` allowed units for VM ``m`` in copy ``b``."""
        inst = self.inst
        row = fit[b, inst.vm_class[m]].copy()
        here = state.host_of[b, m]
        row[here] = False
        if not inst.vm_split[m]:
            other = 1 - int(np.argmax(state.slots[b, m]))
            free = state.unit_free[b, here, other]
            row[here, other] = bool(
                (free >= inst.vm_req[m]).all()
                and inst.unit_valid[here, other]
                and inst.class_allowed[inst.vm_class[m], here]
            )
        for g in self._vm_groups.get(m, ()):
            grp = inst.groups[g]
            dom = grp.domain_of_host
            mine = dom[here]
            members = state.member_count[g][b].copy()
            holders = state.holder_count[g][b].copy()
            if mine >= 0:
                members[mine] -= int(grp.member[m])
                holders[mine] -= int(grp.holder[m])
            clash = np.zeros(inst.n_hosts, dtype=bool)
            has = dom >= 0
            if grp.holder[m]:
                clash[has] |= members[dom[has]] > 0
            if grp.member[m]:
                clash[has] |= holders[dom[has]] > 0
            row[clash] = False
        return row

    # -- transitions -------------------------------------------------------
    def step(self, state: State, vm: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """Apply ``(vm[b], unit[b])`` in each copy not done; return ``[B]``
        rewards. The caller passes masked actions; the move is not re-checked."""
        before = self.fragment_rate(state)
        live = ~state.done
        stop = live & (vm >= self.inst.n_vms)
        for b in np.nonzero(live & ~stop)[0]:
            self._move(state, int(b), int(vm[b]), int(unit[b]))
        state.steps[live & ~stop] += 1
        state.done |= stop | (state.steps >= self.limit)
        return REWARD_SCALE * (before - self.fragment_rate(state)) * live

    def _move(self, state: State, b: int, m: int, unit: int) -> None:
        inst = self.inst
        src_h, dst_h, slot = int(state.host_of[b, m]), unit // NUMA_SLOTS, unit % NUMA_SLOTS
        src_unit = src_h * NUMA_SLOTS + int(np.argmax(state.slots[b, m]))
        state.unit_free[b, src_h, state.slots[b, m]] += inst.vm_share[m]
        state.host_free[b, src_h] += inst.vm_req[m]
        new = np.zeros(NUMA_SLOTS, dtype=bool)
        if inst.vm_split[m]:
            new[:] = True
        else:
            new[slot] = True
        state.unit_free[b, dst_h, new] -= inst.vm_share[m]
        state.host_free[b, dst_h] -= inst.vm_req[m]
        for g in self._vm_groups.get(m, ()):
            grp = inst.groups[g]
            for d, sign in ((grp.domain_of_host[src_h], -1), (grp.domain_of_host[dst_h], 1)):
                if d >= 0:
                    state.member_count[g][b, d] += sign * int(grp.member[m])
                    state.holder_count[g][b, d] += sign * int(grp.holder[m])
        state.host_of[b, m] = dst_h
        state.slots[b, m] = new
        state.moved[b, m] += 1
        if inst.vm_owner[m] >= 0:
            state.owner_moves[b, inst.vm_owner[m]] += 1
        state.moves[b].append((m, src_unit, unit))

    # -- plans -------------------------------------------------------------
    def plan(self, state: State, b: int) -> Plan:
        """The moves of copy ``b`` as a plan, in the order they were made."""
        return Plan(tuple(self._action(*mv) for mv in _replayed(state.moves[b], self.inst)))

    def _action(self, m: int, src: Assignment, dst: Assignment) -> Action:
        return Action(ActionKind.MOVE, self.inst.vm_ids[m], source=src, target=dst)


def _count(domains: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(domains[domains >= 0], minlength=n).astype(np.int64)


def _assignment(inst: Instance, host: int, slots: np.ndarray) -> Assignment:
    numa = () if inst.host_numa[host] == 0 else tuple(int(s) for s in np.nonzero(slots)[0])
    return Assignment(inst.host_names[host], numa)


def _replayed(moves: list[Move], inst: Instance) -> list[tuple[int, Assignment, Assignment]]:
    """Source and target assignments of each move, replayed from the start."""
    where = {m: (int(inst.init_host[m]), inst.init_slots[m]) for m, _, _ in moves}
    out = []
    for m, _, unit in moves:
        src = _assignment(inst, *where[m])
        host, slots = unit // NUMA_SLOTS, np.zeros(NUMA_SLOTS, dtype=bool)
        if inst.vm_split[m]:
            slots[:] = True
        else:
            slots[unit % NUMA_SLOTS] = True
        out.append((m, src, _assignment(inst, host, slots)))
        where[m] = (host, slots)
    return out
