r"""The two-stage rescheduling policy: a heterogeneous GNN encoder, a VM head,
a destination head conditioned on the chosen VM, and a value head.

Encoder: :class:`~optsched.gnn.conv.RescheduleEncoder` (``d`` hidden units)
gives ``h_vm [N_vm, d]`` and ``h_numa [N_numa, d]``; a graph summary is
:math:`g = \mathrm{ReLU}(W_g [\mathrm{mean}(h_{vm}) \| \mathrm{mean}(h_{numa})
\| \max(h_{numa})])` (``[G, d]``, one row per graph).

Heads (MLPs with one hidden layer):

* VM head: :math:`\ell_v = f_{vm}([h_v \| g])` per VM (``[N_vm]``) and a stop
  logit :math:`\ell_{stop} = f_{stop}(g)` (``[G]``); the first-stage action is a
  masked softmax over the VMs of a graph and stop.
* Destination head, given the chosen VM ``v*`` of each graph:
  :math:`\ell_u = f_{dst}([h_u \| h_{v*} \| p_u])` per NUMA node ``u``
  (``[N_numa]``), with ``p_u`` the pair features of placing ``v*`` on ``u``.
* Value head: :math:`V = f_V(g)` (``[G]``).

Nothing depends on the number of VMs or hosts, so one network serves any
cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter

from optsched.gnn.conv import RescheduleEncoder, Segments
from optsched.gnn.features import NUMA_FEATURES, PAIR_FEATURES, VM_FEATURES

MASKED = -1e9  # logit of a masked action: finite so that entropies stay defined


@dataclass(frozen=True)
class PolicyConfig:
    hidden: int = 32
    layers: int = 2


@dataclass(frozen=True)
class Encoded:
    vm: Tensor  # [N_vm, d]
    numa: Tensor  # [N_numa, d]
    graph: Tensor  # [G, d]


def _mlp(n_in: int, hidden: int, n_out: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class ReschedulePolicy(nn.Module):
    """See the module docstring."""

    def __init__(self, config: PolicyConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PolicyConfig()
        d = cfg.hidden
        self.encoder = RescheduleEncoder(len(VM_FEATURES), len(NUMA_FEATURES), d, cfg.layers)
        self.pool = nn.Linear(3 * d, d)
        self.vm_head_node = nn.Linear(d, d)
        self.vm_head_graph = nn.Linear(d, d, bias=False)
        self.vm_head_out = nn.Linear(d, 1)
        self.stop_head = _mlp(d, d)
        self.dest_head = _mlp(2 * d + len(PAIR_FEATURES), d)
        self.value_head = _mlp(d, d)

    def encode(self, data: HeteroData) -> Encoded:
        h_vm, h_numa = self.encoder(data)
        vms, numa = Segments.of(data, "vm"), Segments.of(data, "numa")
        pooled = torch.cat([vms.mean(h_vm), numa.mean(h_numa), numa.max(h_numa)], dim=-1)
        return Encoded(h_vm, h_numa, torch.relu(self.pool(pooled)))

    def vm_logits(self, enc: Encoded, data: HeteroData) -> tuple[Tensor, Tensor]:
        """Per-VM logits ``[N_vm]`` and stop logits ``[G]`` (unmasked)."""
        # f_vm([h_v || g]) with its first layer split, so that g's part is computed per graph
        g = self.vm_head_graph(enc.graph)
        hidden = Segments.of(data, "vm").add(self.vm_head_node(enc.vm), g)
        node = self.vm_head_out(torch.relu(hidden)).squeeze(-1)
        return node, self.stop_head(enc.graph).squeeze(-1)

    def dest_logits(self, enc: Encoded, data: HeteroData, vm: Tensor, pair: Tensor) -> Tensor:
        """Destination logits ``[N_numa]`` given the global index ``vm [G]`` of
        each graph's chosen VM and pair features ``pair [N_numa, P]``."""
        chosen = Segments.of(data, "numa").rows(enc.vm[vm])
        return self.dest_head(torch.cat([enc.numa, chosen, pair], dim=-1)).squeeze(-1)

    def value(self, enc: Encoded) -> Tensor:
        return self.value_head(enc.graph).squeeze(-1)


def segment_log_softmax(logits: Tensor, index: Tensor, n: int) -> Tensor:
    r"""Log-softmax within segments: :math:`\ell_i - \log\sum_{j: s_j = s_i} e^{\ell_j}`."""
    top = scatter(logits, index, 0, dim_size=n, reduce="max")
    z = logits - top[index]
    return z - torch.log(scatter(z.exp(), index, 0, dim_size=n, reduce="sum"))[index]


def segment_entropy(logp: Tensor, index: Tensor, n: int) -> Tensor:
    return -scatter(logp.exp() * logp, index, 0, dim_size=n, reduce="sum")


@dataclass(frozen=True)
class Evaluation:
    log_prob: Tensor  # [G] log pi(vm) + log pi(dest | vm) (dest term 0 on stop)
    entropy: Tensor  # [G] entropy of the first stage plus, on moves, the second
    value: Tensor  # [G]
    vm_log_prob: Tensor  # [G]
    dest_log_prob: Tensor  # [G]


def evaluate_actions(
    policy: ReschedulePolicy,
    data: HeteroData,
    vm_mask: Tensor,
    stop: Tensor,
    vm: Tensor,
    dest_mask: Tensor,
    pair: Tensor,
    dest: Tensor,
) -> Evaluation:
    """Log-probabilities of taken actions in graphs of any sizes.

    ``vm_mask [N_vm]`` bool; ``stop [G]`` bool, the action was stop; ``vm [G]``
    global index of the chosen VM (any valid index on stop); ``dest_mask
    [N_numa]`` bool; ``pair [N_numa, P]``; ``dest [G]`` global index of the
    chosen NUMA node (any on stop)."""
    n = int(data.num_graphs)
    enc = policy.encode(data)
    node, stop_logit = policy.vm_logits(enc, data)
    vm_g = data["vm"].graph
    logits = torch.cat([node.masked_fill(~vm_mask, MASKED), stop_logit])
    index = torch.cat([vm_g, torch.arange(n)])
    logp = segment_log_softmax(logits, index, n)
    chosen = torch.where(stop, node.shape[0] + torch.arange(n), vm)
    ent = segment_entropy(logp, index, n)
    numa_g = data["numa"].graph
    dl = policy.dest_logits(enc, data, vm, pair).masked_fill(~dest_mask, MASKED)
    dlogp = segment_log_softmax(dl, numa_g, n)
    move = (~stop).float()
    dest_lp = dlogp[dest] * move
    return Evaluation(
        log_prob=logp[chosen] + dest_lp,
        entropy=ent + segment_entropy(dlogp, numa_g, n) * move,
        value=policy.value(enc),
        vm_log_prob=logp[chosen],
        dest_log_prob=dest_lp,
    )
