r"""Message passing on the rescheduling graph, NUMA-centred for CPU speed.

The graph (:mod:`optsched.gnn.features`) has VM nodes, NUMA nodes, edges
``(vm, on, numa)`` with their reverse ``(numa, holds, vm)``, and
``(numa, sibling, numa)``. VM nodes outnumber NUMA nodes about 4 to 1 in the
VMR2L clusters and ``K`` batched trajectories multiply both, so on 2 CPU cores
the cost of a round is the number of ``[N_vm, d]`` tensors it touches. The
encoder therefore passes messages VM -> NUMA once, on the raw VM features
(``F_vm`` wide, not ``d``), runs its rounds on NUMA nodes, and reads out to VMs
once:

.. math::
    h^{(0)}_u &= \mathrm{ReLU}\big(W_0 [x_u \,\|\, \mathrm{mean}_{v \in N_{on}(u)} x_v
        \,\|\, |N_{on}(u)| / c]\big) \\
    h^{(l+1)}_u &= h^{(l)}_u + \mathrm{ReLU}\big(W^{(l)}_1 h^{(l)}_u
        + W^{(l)}_2\,\mathrm{mean}_{w \in N_{sib}(u)} h^{(l)}_w + W^{(l)}_3\, g^{(l)}\big) \\
    h_v &= \mathrm{ReLU}\big(W_4 x_v + \mathrm{mean}_{u \in N_{holds}(v)} W_5 h^{(L)}_u\big)

with :math:`g^{(l)}` the mean of :math:`h^{(l)}` over the NUMA nodes of the
node's graph (the cluster-wide context of the round) and ``c`` a count scale.

Shapes: ``x_vm [N_vm, F_vm]``, ``x_numa [N_numa, F_numa]``; returns
``h_vm [N_vm, d]`` and ``h_numa [N_numa, d]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter

from optsched.gnn.features import SIBLING, VM_ON

COUNT_SCALE = 8.0  # VMs per NUMA node in the VMR2L medium cluster are about 4


@dataclass(frozen=True)
class Adjacency:
    """Edge lists and inverse degrees of one observation."""

    vm: Tensor  # [E] VM end of each (vm, on, numa) edge
    numa: Tensor  # [E] NUMA end
    deg_numa: Tensor  # [N_numa, 1] VMs on each NUMA node
    inv_deg_vm: Tensor  # [N_vm, 1]
    sib_src: Tensor  # [E_s]
    sib_dst: Tensor  # [E_s]
    inv_deg_sib: Tensor  # [N_numa, 1]

    @classmethod
    def of(cls, data: HeteroData) -> Adjacency:
        n_vm, n_numa = data["vm"].x.shape[0], data["numa"].x.shape[0]
        vm, numa = data[VM_ON].edge_index
        sib_src, sib_dst = data[SIBLING].edge_index

        def deg(index: Tensor, n: int) -> Tensor:
            return torch.bincount(index, minlength=n).to(torch.float32).unsqueeze(1)

        return cls(
            vm,
            numa,
            deg(numa, n_numa),
            1.0 / deg(vm, n_vm).clamp(min=1.0),
            sib_src,
            sib_dst,
            1.0 / deg(sib_dst, n_numa).clamp(min=1.0),
        )


@dataclass(frozen=True)
class Segments:
    """The graph of each node of one type, for per-graph pooling. ``per`` is
    set when every graph has that many nodes, stored graph after graph (the
    ``K`` copies of one problem at inference): pooling and broadcasting are
    then reshapes instead of scatters and gathers (the same values, about a
    fifth of the rollout's time saved on the medium snapshot at ``K = 8``)."""

    graph: Tensor  # [N] graph of each node
    n: int  # graphs
    per: int | None  # nodes per graph, when all graphs have the same (positive) number

    @classmethod
    def of(cls, data: HeteroData, node_type: str) -> Segments:
        store = data[node_type]
        per = store.per_graph if "per_graph" in store else None
        return cls(store.graph, int(data.num_graphs), per or None)

    def mean(self, x: Tensor) -> Tensor:
        """``[G, d]`` mean of ``x [N, d]`` over each graph's nodes."""
        if self.per:
            return x.view(self.n, self.per, -1).mean(1)
        return scatter(x, self.graph, 0, dim_size=self.n, reduce="mean")

    def max(self, x: Tensor) -> Tensor:
        if self.per:
            return x.view(self.n, self.per, -1).amax(1)
        return scatter(x, self.graph, 0, dim_size=self.n, reduce="max")

    def add(self, x: Tensor, per_graph: Tensor) -> Tensor:
        """``x [N, d]`` plus its graph's row of ``per_graph [G, d]``."""
        if self.per:
            return (x.view(self.n, self.per, -1) + per_graph[:, None]).view(x.shape)
        return x + per_graph[self.graph]

    def rows(self, per_graph: Tensor) -> Tensor:
        """``[N, d]``: each node's graph's row of ``per_graph [G, d]``."""
        if self.per:
            return per_graph[:, None].expand(self.n, self.per, -1).reshape(-1, per_graph.shape[1])
        return per_graph[self.graph]


def _mean(src: Tensor, index_src: Tensor, index_dst: Tensor, n: int, inv_deg: Tensor) -> Tensor:
    out = torch.zeros(n, src.shape[1], dtype=src.dtype)
    return out.index_add_(0, index_dst, src.index_select(0, index_src)) * inv_deg


class NumaRound(nn.Module):
    """One residual round on NUMA nodes (the second line of the module math)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.root = nn.Linear(d, d)
        self.sibling = nn.Linear(d, d, bias=False)
        self.context = nn.Linear(d, d, bias=False)

    def forward(self, h: Tensor, seg: Segments, adj: Adjacency) -> Tensor:
        sib = _mean(h, adj.sib_src, adj.sib_dst, h.shape[0], adj.inv_deg_sib)
        ctx = self.context(seg.mean(h))
        return h + torch.relu(seg.add(self.root(h) + self.sibling(sib), ctx))


class RescheduleEncoder(nn.Module):
    """The encoder of the module docstring: ``d`` hidden units, ``rounds`` NUMA rounds."""

    def __init__(self, vm_features: int, numa_features: int, d: int, rounds: int) -> None:
        super().__init__()
        self.numa_in = nn.Linear(numa_features + vm_features + 1, d)
        self.rounds = nn.ModuleList(NumaRound(d) for _ in range(rounds))
        self.vm_in = nn.Linear(vm_features, d)
        self.vm_from_numa = nn.Linear(d, d, bias=False)

    def forward(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        adj = Adjacency.of(data)
        x_vm, x_numa = data["vm"].x, data["numa"].x
        n_numa = x_numa.shape[0]
        inv = 1.0 / adj.deg_numa.clamp(min=1.0)
        vm_mean = _mean(x_vm, adj.vm, adj.numa, n_numa, inv)
        h = torch.relu(self.numa_in(torch.cat([x_numa, vm_mean, adj.deg_numa / COUNT_SCALE], 1)))
        seg = Segments.of(data, "numa")
        for r in self.rounds:
            h = r(h, seg, adj)
        back = _mean(self.vm_from_numa(h), adj.numa, adj.vm, x_vm.shape[0], adj.inv_deg_vm)
        return torch.relu(self.vm_in(x_vm) + back), h
