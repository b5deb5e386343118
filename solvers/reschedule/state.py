"""Incremental cluster state for VM rescheduling: the feasibility rules and the
fragment reward, in one place, for every rescheduling solver (greedy, the
CP-SAT disaggregation and sequencing, LNS) and for the learned environment.

Units and placements
    A *unit* is a (host, NUMA node) pair; a host without a NUMA layout is one
    unit (NUMA slot 0) holding the host's capacity. A VM sits on a *placement*:
    a tuple of NUMA slots of one host, one slot, or two for a ``numa_split`` VM,
    which puts ``request // 2`` on each (the share convention of
    :mod:`optsched.model.compiled`). ``PLACEMENTS`` lists the placements of a
    host with ``K`` NUMA slots: the singles ``(k,)`` first, then the pairs.

Feasibility of moving VM ``v`` to placement ``n`` on host ``h``
    1. ``v`` is movable (``Item.movable``; VMR2L ``allow_migration``);
    2. ``h`` is in ``v``'s cluster, schedulable, and not excluded;
    3. ``len(n)`` is 2 when ``v`` is split and 1 otherwise, on NUMA slots that
       exist on ``h``;
    4. capacity, every resource: on each NUMA node of ``n`` the free amount
       (capacity less reservation less the VMs there, ``v``'s own share
       counted as free when ``v`` sits there) covers ``v``'s share, and the
       host-level free amount covers its request;
    5. anti-affinity (see :mod:`.affinity`): the move creates no co-location
       an anti-affinity term forbids;
    6. ``(h, n)`` differs from where ``v`` is.

Fragment rate and reward (VMR2L, Ding et al., EuroSys 2025)
    Over the units of schedulable hosts (excluded hosts are schedulable, only
    not destinations of this plan, so they count), ``R = sum(e mod F)`` and
    ``T = sum(e)`` with ``e`` the free CPU of the unit, or with
    ``memory_aware``, ``min(free CPU, free memory // memory_per_core_mb)``;
    ``FR = R / T`` (0 when ``T`` is 0). ``R`` and ``T`` are kept up to date
    move by move. The reward of a move is FR before less FR after.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from optsched.errors import DomainError
from optsched.model import MEMORY_MB, Assignment, compile_snapshot
from optsched.problems.cluster import VmRescheduling
from optsched.results import Action, ActionKind, Plan
from optsched.solvers.reschedule.affinity import AntiAffinityGroup, anti_affinity_groups


def placements_for(k_slots: int) -> tuple[tuple[int, ...], ...]:
    """All placements on a host with ``k_slots`` NUMA slots: singles, then pairs."""
    singles = tuple((k,) for k in range(k_slots))
    return singles + tuple(combinations(range(k_slots), 2))


def unit_terms(
    free_cpu: np.ndarray, free_mem: np.ndarray | None, fragment_cores: int, mem_per_core_mb: int
) -> tuple[np.ndarray, np.ndarray]:
    """(e mod F, e) per unit, with e the (memory-aware when ``free_mem`` is
    given) free CPU. Works on arrays of any shape."""
    eff = free_cpu if free_mem is None else np.minimum(free_cpu, free_mem // mem_per_core_mb)
    return eff % fragment_cores, eff


@dataclass
class RescheduleState:
    """The cluster as numpy arrays, changed in place by :meth:`move`.

    Shapes: ``H`` hosts, ``K`` NUMA slots, ``R`` resources, ``M`` VMs.
    """

    problem: VmRescheduling
    host_names: tuple[str, ...]
    vm_ids: tuple[str, ...]
    resources: tuple[str, ...]
    cpu_col: int
    mem_col: int  # -1 unless memory-aware
    placements: tuple[tuple[int, ...], ...]
    host_cluster: np.ndarray  # [H] int64
    host_dest: np.ndarray  # [H] bool: schedulable and not excluded
    host_counted: np.ndarray  # [H] bool: schedulable (counts in the fragment rate)
    has_numa: np.ndarray  # [H] bool: False for a host modelled as one unit
    numa_valid: np.ndarray  # [H, K] bool
    host_free: np.ndarray  # [H, R] int64
    numa_free: np.ndarray  # [H, K, R] int64
    vm_req: np.ndarray  # [M, R] int64
    vm_split: np.ndarray  # [M] bool
    vm_movable: np.ndarray  # [M] bool
    vm_cluster: np.ndarray  # [M] int64
    vm_host: np.ndarray  # [M] int64
    vm_numa: np.ndarray  # [M, 2] int64, -1 pads a single placement
    vm_place: np.ndarray  # [M] int64: index of the VM's placement in ``placements``
    groups: list[AntiAffinityGroup]
    vm_groups: list[tuple[int, ...]]
    owners_in: list[np.ndarray]  # per group: [domains] owners there
    members_in: list[np.ndarray]  # per group: [domains] members there
    frag_sum: int = 0  # R
    free_sum: int = 0  # T
    actions: list[Action] = field(default_factory=list)

    # construction ----------------------------------------------------------

    @classmethod
    def from_problem(cls, problem: VmRescheduling) -> RescheduleState:
        snap = problem.snapshot
        cc = compile_snapshot(snap)
        if problem.cpu_resource not in cc.resources:
            raise DomainError("cpu_resource", f"no node or VM has {problem.cpu_resource!r}")
        if problem.memory_aware and MEMORY_MB not in cc.resources:
            raise DomainError("memory_aware", f"needs {MEMORY_MB!r} on the nodes and VMs")
        k = max(1, cc.numa_capacity.shape[1])
        has_numa = np.array([len(nd.numa) > 0 for nd in snap.nodes], dtype=bool)
        numa_cap = np.zeros((cc.n_nodes, k, len(cc.resources)), dtype=np.int64)
        numa_cap[:, : cc.numa_capacity.shape[1]] = cc.numa_capacity
        numa_cap[~has_numa, 0] = cc.capacity[~has_numa]
        valid = np.zeros((cc.n_nodes, k), dtype=bool)
        for h, nd in enumerate(snap.nodes):
            valid[h, : max(1, len(nd.numa))] = True
        clusters = {c: i for i, c in enumerate(sorted({nd.cluster for nd in snap.nodes}))}
        vm_numa = np.full((cc.n_items, 2), -1, dtype=np.int64)
        for m, it in enumerate(snap.items):
            a = snap.assignments[it.item_id]
            slots = a.numa or (0,)
            if len(slots) != (2 if it.numa_split and has_numa[cc.node_of[m]] else 1):
                raise DomainError(
                    f"assignments[{it.item_id}].numa",
                    f"{'split' if it.numa_split else 'single-NUMA'} VM on NUMA nodes {a.numa}",
                )
            if it.cluster not in clusters:
                raise DomainError(f"items[{it.item_id}].cluster", f"no host in {it.cluster!r}")
            vm_numa[m, : len(slots)] = sorted(slots)
        groups = anti_affinity_groups(snap)
        state = cls(
            problem=problem,
            host_names=tuple(nd.name for nd in snap.nodes),
            vm_ids=tuple(it.item_id for it in snap.items),
            resources=cc.resources,
            cpu_col=cc.col(problem.cpu_resource),
            mem_col=cc.col(MEMORY_MB) if problem.memory_aware else -1,
            placements=placements_for(k),
            host_cluster=np.array([clusters[nd.cluster] for nd in snap.nodes], dtype=np.int64),
            host_dest=np.array([problem.is_destination(nd.name) for nd in snap.nodes], bool),
            host_counted=cc.schedulable.copy(),
            has_numa=has_numa,
            numa_valid=valid,
            host_free=cc.capacity.copy(),
            numa_free=numa_cap,
            vm_req=cc.requests.copy(),
            vm_split=cc.numa_split.copy(),
            vm_movable=cc.movable.copy(),
            vm_cluster=np.array([clusters[it.cluster] for it in snap.items], dtype=np.int64),
            vm_host=cc.node_of.copy(),
            vm_numa=vm_numa,
            vm_place=np.array(
                [placements_for(k).index(tuple(int(x) for x in n if x >= 0)) for n in vm_numa],
                dtype=np.int64,
            ),
            groups=groups,
            vm_groups=[
                tuple(g for g, gr in enumerate(groups) if gr.owners[m] or gr.members[m])
                for m in range(cc.n_items)
            ],
            owners_in=[np.zeros(g.n_domains, dtype=np.int64) for g in groups],
            members_in=[np.zeros(g.n_domains, dtype=np.int64) for g in groups],
        )
        state._occupy_all()
        if (state.numa_free < 0).any() or (state.host_free < 0).any():
            over = (state.numa_free < 0).any(axis=(1, 2)) | (state.host_free < 0).any(axis=1)
            h = int(np.nonzero(over)[0][0])
            raise DomainError(f"nodes[{state.host_names[h]}]", "over capacity in the snapshot")
        state._recount()
        return state

    def copy(self) -> RescheduleState:
        """An independent copy (arrays copied; the problem and groups shared)."""
        out = copy.copy(self)
        for name in ("host_free", "numa_free", "vm_host", "vm_numa", "vm_place"):
            setattr(out, name, getattr(self, name).copy())
        out.owners_in = [a.copy() for a in self.owners_in]
        out.members_in = [a.copy() for a in self.members_in]
        out.actions = list(self.actions)
        return out

    # queries ---------------------------------------------------------------

    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_vms(self) -> int:
        return len(self.vm_ids)

    def placement_of(self, vm: int) -> tuple[int, tuple[int, ...]]:
        n = self.vm_numa[vm]
        return int(self.vm_host[vm]), tuple(int(k) for k in n if k >= 0)

    def assignment_of(self, vm: int) -> Assignment:
        h, numa = self.placement_of(vm)
        return Assignment(self.host_names[h], numa if self.has_numa[h] else ())

    def usage(self, vm: int, numa: tuple[int, ...]) -> np.ndarray:
        """[R] what ``vm`` uses on each NUMA node of ``numa``."""
        return np.asarray(self.vm_req[vm] // len(numa))

    def fragment_rate(self) -> float:
        return self.frag_sum / self.free_sum if self.free_sum > 0 else 0.0

    def unit_free(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Free CPU [H, K] and (memory-aware) free memory [H, K] per unit."""
        cpu = self.numa_free[:, :, self.cpu_col]
        mem = self.numa_free[:, :, self.mem_col] if self.mem_col >= 0 else None
        return cpu, mem

    def counted_units(self) -> np.ndarray:
        """[H, K] bool: units that count in the fragment rate."""
        return self.numa_valid & self.host_counted[:, None]

    def target_mask(self, vm: int) -> np.ndarray:
        """[H, P] bool: placements (``self.placements``) ``vm`` may move to now."""
        mask = np.zeros((self.n_hosts, len(self.placements)), dtype=bool)
        if not self.vm_movable[vm]:
            return mask
        width = 2 if self.vm_split[vm] else 1
        hosts = self.host_dest & (self.host_cluster == self.vm_cluster[vm]) & self._affinity_ok(vm)
        src, src_numa = self.placement_of(vm)
        host_free = self.host_free.copy() if hosts[src] else self.host_free
        numa_free = self.numa_free
        if hosts[src]:
            host_free[src] += self.vm_req[vm]
            numa_free = self.numa_free.copy()
            numa_free[src, list(src_numa)] += self.usage(vm, src_numa)
        hosts &= (host_free >= self.vm_req[vm]).all(axis=1)
        share = self.vm_req[vm] // width
        unit_fits = self.numa_valid & (numa_free >= share).all(axis=2)
        for p, numa in enumerate(self.placements):
            if len(numa) == width:
                mask[:, p] = hosts & unit_fits[:, list(numa)].all(axis=1)
        if hosts[src]:
            mask[src, self.placements.index(src_numa)] = False
        return mask

    def host_mask(self, vm: int) -> np.ndarray:
        """[H] bool: hosts ``vm`` may move to now (on some placement)."""
        return np.asarray(self.target_mask(vm).any(axis=1))

    def can_move(self, vm: int, host: int, numa: tuple[int, ...]) -> bool:
        numa = tuple(sorted(numa))
        if numa not in self.placements:
            return False
        return bool(self.target_mask(vm)[host, self.placements.index(numa)])

    def move_delta(self, vm: int, host: int, numa: tuple[int, ...]) -> tuple[int, int]:
        """(change of R, change of T) if ``vm`` moved to ``(host, numa)``;
        feasibility is not checked."""
        src, src_numa = self.placement_of(vm)
        before = self._terms_at([(src, k) for k in src_numa] + [(host, k) for k in numa])
        trial = self.copy()
        trial._occupy(vm, src, src_numa, -1)
        trial._occupy(vm, host, numa, +1)
        after = trial._terms_at([(src, k) for k in src_numa] + [(host, k) for k in numa])
        return after[0] - before[0], after[1] - before[1]

    def best_placement(self, vm: int, host: int) -> tuple[int, ...] | None:
        """The feasible placement of ``vm`` on ``host`` with the lowest
        resulting fragment rate (None when none is feasible)."""
        row = self.target_mask(vm)[host]
        best: tuple[float, tuple[int, ...]] | None = None
        for p in np.nonzero(row)[0]:
            numa = self.placements[int(p)]
            d_r, d_t = self.move_delta(vm, host, numa)
            t = self.free_sum + d_t
            fr = (self.frag_sum + d_r) / t if t > 0 else 0.0
            if best is None or fr < best[0]:
                best = (fr, numa)
        return None if best is None else best[1]

    # changes ---------------------------------------------------------------

    def move(self, vm: int, host: int, numa: tuple[int, ...], *, check: bool = True) -> float:
        """Migrate ``vm`` to ``(host, numa)``; return the reward (FR before
        less FR after). Raises ValueError on an infeasible move when ``check``."""
        numa = tuple(sorted(numa))
        if check and not self.can_move(vm, host, numa):
            raise ValueError(f"infeasible move of {self.vm_ids[vm]} to {self.host_names[host]}")
        before = self.fragment_rate()
        source = self.assignment_of(vm)
        src, src_numa = self.placement_of(vm)
        self._occupy(vm, src, src_numa, -1)
        self._occupy(vm, host, numa, +1)
        self.vm_host[vm] = host
        self.vm_numa[vm] = -1
        self.vm_numa[vm, : len(numa)] = numa
        self.vm_place[vm] = self.placements.index(numa)
        self.actions.append(
            Action(ActionKind.MOVE, self.vm_ids[vm], source=source, target=self.assignment_of(vm))
        )
        return before - self.fragment_rate()

    def plan(self) -> Plan:
        """The moves made so far, in order."""
        return Plan(tuple(self.actions))

    # internals -------------------------------------------------------------

    def _terms_at(self, units: list[tuple[int, int]]) -> tuple[int, int]:
        cpu, mem = self.unit_free()
        frag = free = 0
        for h, k in set(units):
            if not self.host_counted[h]:
                continue
            rem, eff = unit_terms(
                cpu[h, k],
                None if mem is None else mem[h, k],
                self.problem.fragment_cores,
                self.problem.memory_per_core_mb,
            )
            frag += int(rem)
            free += int(eff)
        return frag, free

    def _occupy(self, vm: int, host: int, numa: tuple[int, ...], sign: int) -> None:
        """Add (sign +1) or remove (-1) ``vm`` at ``(host, numa)``, updating
        free amounts, R and T, and anti-affinity counts."""
        units = [(host, k) for k in numa]
        frag0, free0 = self._terms_at(units)
        self.host_free[host] -= sign * self.vm_req[vm]
        self.numa_free[host, list(numa)] -= sign * self.usage(vm, numa)
        frag1, free1 = self._terms_at(units)
        self.frag_sum += frag1 - frag0
        self.free_sum += free1 - free0
        for g in self.vm_groups[vm]:
            group = self.groups[g]
            d = group.host_domain[host]
            if d < 0:
                continue
            if group.owners[vm]:
                self.owners_in[g][d] += sign
            if group.members[vm]:
                self.members_in[g][d] += sign

    def _occupy_all(self) -> None:
        """Subtract every VM's use from the free amounts (construction)."""
        np.add.at(self.host_free, self.vm_host, -self.vm_req)
        for slot in (0, 1):
            on = self.vm_numa[:, slot] >= 0
            width = 1 + (self.vm_numa[:, 1] >= 0)
            share = self.vm_req[on] // width[on, None]
            np.add.at(self.numa_free, (self.vm_host[on], self.vm_numa[on, slot]), -share)
        for m, groups in enumerate(self.vm_groups):
            for g in groups:
                d = self.groups[g].host_domain[self.vm_host[m]]
                if d >= 0:
                    self.owners_in[g][d] += int(self.groups[g].owners[m])
                    self.members_in[g][d] += int(self.groups[g].members[m])

    def _affinity_ok(self, vm: int) -> np.ndarray:
        """[H] bool: hosts where ``vm`` would break no anti-affinity group."""
        ok = np.ones(self.n_hosts, dtype=bool)
        src = int(self.vm_host[vm])
        for g in self.vm_groups[vm]:
            group = self.groups[g]
            others = np.zeros(group.n_domains, dtype=np.int64)
            if group.owners[vm]:
                others += self.members_in[g]
            if group.members[vm]:
                others += self.owners_in[g]
            d_src = group.host_domain[src]
            if d_src >= 0 and group.owners[vm] and group.members[vm]:
                others[d_src] -= 2  # vm itself, counted in both roles, is no "other"
            dom = group.host_domain
            ok &= (dom < 0) | (others[np.maximum(dom, 0)] == 0)
        return ok

    def _recount(self) -> None:
        self.frag_sum = self.free_sum = 0
        cpu, mem = self.unit_free()
        rem, eff = unit_terms(
            cpu, mem, self.problem.fragment_cores, self.problem.memory_per_core_mb
        )
        counted = self.counted_units()
        self.frag_sum = int(rem[counted].sum())
        self.free_sum = int(eff[counted].sum())
