"""Graph observations of the rescheduling environment (feature schema v1).

The observation of ``B`` copies is one :class:`~torch_geometric.data.HeteroData`
holding ``B`` disjoint graphs, with node types

* ``vm`` (``B * M`` nodes, :data:`VM_FEATURES` columns) and
* ``numa`` (``B * H * S`` nodes, one per host NUMA slot, :data:`NUMA_FEATURES`),

and edge types ``(vm, on, numa)`` (each NUMA node a VM uses), its reverse
``(numa, holds, vm)`` and ``(numa, sibling, numa)`` between the two NUMA nodes
of a host. ``data[t].graph`` maps each node to its copy. Quantities are
normalized by the largest NUMA capacity (CPU, memory) or by the fragment size
``F``, so one network serves any cluster size.

The *gain* features count fragmented cores removed, in units of ``F``: a unit
with free CPU ``e`` holds ``e mod F`` fragmented cores, so taking ``c`` cores
from it gains ``(e mod F) - ((e - c) mod F)`` and giving ``c`` back gains
``(e mod F) - ((e + c) mod F)``. They are cheap (computed per VM class) and
give the network the one-step look-ahead that greedy uses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import HeteroData

from optsched.gnn.env import RescheduleEnv, State
from optsched.gnn.instance import NUMA_SLOTS

SCHEMA_VERSION = 1
VM_FEATURES = (
    "cpu",
    "memory",
    "split",
    "may_move",
    "cpu_mod_f",
    "moved",
    "source_gain",
    "best_destination_gain",
)
NUMA_FEATURES = (
    "free_cpu",
    "free_memory",
    "free_cpu_mod_f",
    "whole_fragments",
    "counted",
    "destination",
    "slot",
    "moves_left",
    "fragment_rate",
)
PAIR_FEATURES = ("gain", "free_cpu_after", "free_memory_after")
VM_ON = ("vm", "on", "numa")
NUMA_HOLDS = ("numa", "holds", "vm")
SIBLING = ("numa", "sibling", "numa")


class Featurizer:
    """Builds observations for one environment; constants depend only on
    the instance."""

    def __init__(self, env: RescheduleEnv) -> None:
        inst = env.inst
        self.env = env
        self.f = env.fragment_cores
        self.cpu_norm = float(max(inst.unit_cap[..., inst.cpu].max(), 1))
        mem = inst.unit_cap[..., inst.mem] if inst.mem >= 0 else np.ones(1)
        self.mem_norm = float(max(mem.max(), 1))
        self.destination = inst.class_allowed.any(axis=0)  # [H]
        u = np.arange(inst.n_units)
        valid = inst.unit_valid.reshape(-1)
        pair = valid & valid[u ^ 1]
        self._sibling = np.stack([u[pair], (u ^ 1)[pair]])

    def _mem(self, x: np.ndarray) -> np.ndarray:
        inst = self.env.inst
        return x[..., inst.mem] if inst.mem >= 0 else np.zeros(x.shape[:-1])

    def gains(self, state: State, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``source [B, M]`` and ``best destination [B, M]`` gains (module doc)."""
        inst, f = self.env.inst, self.f
        free = self.env.free_cpu(state)  # [B, H, S]
        b_idx = np.arange(state.n_copies)[:, None]
        src_free = free[b_idx, state.host_of]  # [B, M, S]
        share = inst.vm_share[:, inst.cpu][None, :, None]
        src = ((src_free % f) - ((src_free + share) % f)) * state.slots
        dest = self.class_gain(free)  # [B, C, H, S]
        best = np.where(fit, dest, -np.inf).max(axis=(2, 3))  # [B, C]
        best = np.where(np.isfinite(best), best, 0.0)
        return src.sum(-1) / f, best[:, inst.vm_class] / f

    def class_gain(self, free: np.ndarray) -> np.ndarray:
        """``[B, C, H, S]`` fragmented cores removed by placing a VM of class
        ``c`` on unit ``(h, s)`` (a split class: on both slots, at slot 0)."""
        inst, f = self.env.inst, self.f
        need = inst.class_need[:, inst.cpu][None, :, None, None]
        g = (free[:, None] % f) - ((free[:, None] - need) % f)
        split = inst.class_split
        g[:, split, :, 0] += g[:, split, :, 1]
        return g

    def observe(self, state: State, fit: np.ndarray, vm_mask: np.ndarray) -> HeteroData:
        """The observation of all copies (``vm_mask [B, M + 1]`` from the env)."""
        env, inst, f = self.env, self.env.inst, self.f
        b, m, u = state.n_copies, inst.n_vms, inst.n_units
        free = env.free_cpu(state).reshape(b, u)
        mem_free = self._mem(state.unit_free).reshape(b, u)
        left = (env.limit - state.steps) / max(env.limit, 1)
        fr = env.fragment_rate(state)
        numa = np.stack(
            [
                free / self.cpu_norm,
                mem_free / self.mem_norm,
                (free % f) / f,
                (free // f) * f / self.cpu_norm,
                np.broadcast_to(env._counted.reshape(-1), (b, u)),
                np.broadcast_to(np.repeat(self.destination, NUMA_SLOTS), (b, u)),
                np.broadcast_to(np.arange(u) % NUMA_SLOTS, (b, u)),
                np.broadcast_to(left[:, None], (b, u)),
                np.broadcast_to(fr[:, None], (b, u)),
            ],
            axis=-1,
        )
        src_gain, dest_gain = self.gains(state, fit)
        cpu = inst.vm_req[:, inst.cpu]
        vm = np.stack(
            [
                np.broadcast_to(cpu / self.cpu_norm, (b, m)),
                np.broadcast_to(self._mem(inst.vm_req) / self.mem_norm, (b, m)),
                np.broadcast_to(inst.vm_split, (b, m)),
                vm_mask[:, :m],
                np.broadcast_to((cpu % f) / f, (b, m)),
                state.moved > 0,
                src_gain,
                dest_gain,
            ],
            axis=-1,
        )
        return self._graph(state, vm.reshape(b * m, -1), numa.reshape(b * u, -1))

    def _graph(self, state: State, x_vm: np.ndarray, x_numa: np.ndarray) -> HeteroData:
        inst = self.env.inst
        b, m, u = state.n_copies, inst.n_vms, inst.n_units
        cb, cv, cs = np.nonzero(state.slots)
        src = cb * m + cv
        dst = cb * u + state.host_of[cb, cv] * NUMA_SLOTS + cs
        sib = (self._sibling[:, None, :] + (np.arange(b) * u)[None, :, None]).reshape(2, -1)
        data = HeteroData()
        data["vm"].x = torch.from_numpy(x_vm.astype(np.float32))
        data["vm"].graph = torch.arange(b).repeat_interleave(m)
        data["vm"].per_graph = m  # copies of one problem: pooling by reshape
        data["numa"].x = torch.from_numpy(x_numa.astype(np.float32))
        data["numa"].graph = torch.arange(b).repeat_interleave(u)
        data["numa"].per_graph = u
        data[VM_ON].edge_index = torch.from_numpy(np.stack([src, dst]))
        data[NUMA_HOLDS].edge_index = torch.from_numpy(np.stack([dst, src]))
        data[SIBLING].edge_index = torch.from_numpy(sib)
        data.num_graphs = b
        return data

    def pair(self, state: State, vm: np.ndarray) -> np.ndarray:
        """``[B, U, P]`` features of placing VM ``vm[b]`` on each unit."""
        inst, f = self.env.inst, self.f
        free = self.env.free_cpu(state)
        v = np.minimum(vm, inst.n_vms - 1)
        cls = inst.vm_class[v]
        gain = self.class_gain(free)[np.arange(state.n_copies), cls]  # [B, H, S]
        share = inst.vm_share[v]  # [B, R]
        after = free - share[:, None, None, inst.cpu]
        mem_after = self._mem(state.unit_free) - self._mem(share)[:, None, None]
        out = np.stack([gain / f, after / self.cpu_norm, mem_after / self.mem_norm], axis=-1)
        return out.reshape(state.n_copies, inst.n_units, len(PAIR_FEATURES))


def concat(graphs: Sequence[HeteroData]) -> HeteroData:
    """One observation holding every graph of ``graphs`` (node indices and
    ``graph`` ids offset), for training minibatches."""
    out = HeteroData()
    offsets = {"vm": 0, "numa": 0}
    n_graphs = 0
    edges: dict[tuple[str, str, str], list[torch.Tensor]] = {VM_ON: [], NUMA_HOLDS: [], SIBLING: []}
    xs: dict[str, list[torch.Tensor]] = {"vm": [], "numa": []}
    ids: dict[str, list[torch.Tensor]] = {"vm": [], "numa": []}
    for g in graphs:
        for et in edges:
            shift = torch.tensor([[offsets[et[0]]], [offsets[et[2]]]])
            edges[et].append(g[et].edge_index + shift)
        for nt in xs:
            xs[nt].append(g[nt].x)
            ids[nt].append(g[nt].graph + n_graphs)
            offsets[nt] += g[nt].x.shape[0]
        n_graphs += int(g.num_graphs)
    for nt in xs:
        out[nt].x = torch.cat(xs[nt])
        out[nt].graph = torch.cat(ids[nt])
    for et, parts in edges.items():
        out[et].edge_index = torch.cat(parts, dim=1)
    out.num_graphs = n_graphs
    return out
