"""Seeded synthetic clusters: Kubernetes-like pod clusters and NUMA VM
clusters. The same spec and seed give the same snapshot, on any machine
(only :class:`random.Random` is used).

Every placed item in a generated snapshot is feasible where it sits:
capacity (per NUMA node for VMs), nodeSelector, taints and hostname
anti-affinity all hold, so a generated snapshot is a valid starting state.

Pod clusters: nodes of a few sizes spread over zones, some of them tainted
GPU nodes; ReplicaSets with a priority, a request shape, optionally GPUs
(with the toleration and a selector) and hostname anti-affinity among their
replicas, and a disruption budget; pods are placed by a randomized first fit
up to a target utilization, and a share of them is left pending.

VM clusters (after the VMR2L setting): hosts with two NUMA nodes in one or
more clusters; VMs mostly small, large ones split over both NUMA nodes;
placed on random fitting hosts, which leaves the fragmentation that
rescheduling reduces; some VMs pinned, some in anti-affinity deployment sets.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from optsched.errors import DomainError
from optsched.model import (
    CLUSTER_KEY,
    CPU_CORES,
    CPU_MILLIS,
    GPU_COUNT,
    HOSTNAME_KEY,
    MEMORY_MB,
    MEMORY_MIB,
    PODS,
    ZONE_KEY,
    AffinityTerm,
    Assignment,
    Item,
    LabelSelector,
    Node,
    NumaNode,
    Resources,
    Snapshot,
    Taint,
    Toleration,
)

NODE_CORES = (4, 8, 16)  # common cloud instance sizes
MIB_PER_CORE = 4096  # general-purpose instances: 4 GiB per vCPU
MAX_PODS = 110  # kubelet default max pods per node
GPUS_PER_NODE = 4
GPU_TAINT = Taint("nvidia.com/gpu", "present", "NoSchedule")
GPU_LABEL = ("accelerator", "nvidia-a100")
POD_CPU_MILLIS = (100, 250, 500, 1000, 2000)
VM_CORES = (1, 2, 4, 8, 16, 32)
VM_CORE_WEIGHTS = (20, 25, 25, 15, 10, 5)  # small VMs dominate (VMR2L traces)
VM_MB_PER_CORE = (2048, 4096, 8192)
NUMA_CORES = (32, 44, 48)  # VMR2L hosts have 44-core NUMA nodes
SPLIT_MIN_CORES = 32  # VMs this large span both NUMA nodes
DEPLOYMENT_SET_LABEL = "optsched.io/deployment-set"


def _share(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise DomainError(name, f"must be within [0, 1], got {value}")
    return value


@dataclass(frozen=True)
class PodClusterSpec:
    nodes: int = 12
    zones: int = 3
    gpu_share: float = 0.15
    replicasets: int = 12
    max_replicas: int = 5
    priorities: tuple[int, ...] = (0, 100, 1000)
    anti_affinity_share: float = 0.3
    target_utilization: float = 0.7
    pending_share: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("nodes", "zones", "replicasets", "max_replicas"):
            if getattr(self, name) < 1:
                raise DomainError(name, "must be at least 1")
        for name in ("gpu_share", "anti_affinity_share", "target_utilization", "pending_share"):
            _share(getattr(self, name), name)
        if not self.priorities:
            raise DomainError("priorities", "must not be empty")


def _pod_node(rng: random.Random, i: int, spec: PodClusterSpec) -> Node:
    cores = rng.choice(NODE_CORES)
    cap = {CPU_MILLIS: cores * 1000, MEMORY_MIB: cores * MIB_PER_CORE, PODS: MAX_PODS}
    labels = {ZONE_KEY: f"zone-{i % spec.zones}", HOSTNAME_KEY: f"node-{i}"}
    taints: tuple[Taint, ...] = ()
    if rng.random() < spec.gpu_share:
        cap[GPU_COUNT] = GPUS_PER_NODE
        labels[GPU_LABEL[0]] = GPU_LABEL[1]
        taints = (GPU_TAINT,)
    return Node(f"node-{i}", Resources.of(cap), labels=labels, taints=taints)


def _replicaset(rng: random.Random, j: int, spec: PodClusterSpec) -> list[Item]:
    app, owner = f"app-{j}", f"ReplicaSet/default/app-{j}"
    cpu = rng.choice(POD_CPU_MILLIS)
    req = {
        CPU_MILLIS: cpu,
        MEMORY_MIB: cpu * MIB_PER_CORE // 1000 // rng.choice((1, 2, 4)),
        PODS: 1,
    }
    gpu = rng.random() < spec.gpu_share
    if gpu:
        req[GPU_COUNT] = 1
    spread = rng.random() < spec.anti_affinity_share
    term = AffinityTerm(LabelSelector({"app": app}), HOSTNAME_KEY)
    return [
        Item(
            f"default/{app}-{k}",
            Resources.of(req),
            priority=rng.choice(spec.priorities),
            owner=owner,
            labels={"app": app},
            node_selector=dict([GPU_LABEL]) if gpu else {},
            tolerations=(Toleration(GPU_TAINT.key, "Exists"),) if gpu else (),
            anti_affinity=(term,) if spread else (),
        )
        for k in range(rng.randint(1, spec.max_replicas))
    ]


def _pod_fits(it: Item, node: Node, free: dict[str, int], here: Sequence[Item]) -> bool:
    if not it.requests.fits_in(free):
        return False
    if any(node.labels.get(k) != v for k, v in it.node_selector.items()):
        return False
    blocking = [t for t in node.taints if t.effect != "PreferNoSchedule"]
    if any(not any(tol.tolerates(t) for tol in it.tolerations) for t in blocking):
        return False
    return not any(
        any(t.selector.matches(o.labels) for t in it.anti_affinity)
        or any(t.selector.matches(it.labels) for t in o.anti_affinity)
        for o in here
    )


def pod_cluster(spec: PodClusterSpec | None = None) -> Snapshot:
    """A pod cluster snapshot; see the module docstring."""
    spec = spec or PodClusterSpec()
    rng = random.Random(spec.seed)
    nodes = [_pod_node(rng, i, spec) for i in range(spec.nodes)]
    items = [p for j in range(spec.replicasets) for p in _replicaset(rng, j, spec)]
    free = {n.name: dict(n.capacity.items()) for n in nodes}
    here: dict[str, list[Item]] = {n.name: [] for n in nodes}
    budget_millis = spec.target_utilization * sum(n.capacity[CPU_MILLIS] for n in nodes)
    used_millis, where = 0, {}
    for it in items:
        if (
            rng.random() < spec.pending_share
            or used_millis + it.requests[CPU_MILLIS] > budget_millis
        ):
            continue
        order = rng.sample(nodes, len(nodes))
        node = next((n for n in order if _pod_fits(it, n, free[n.name], here[n.name])), None)
        if node is None:
            continue
        for r, q in it.requests.items():
            free[node.name][r] -= q
        here[node.name].append(it)
        used_millis += it.requests[CPU_MILLIS]
        where[it.item_id] = Assignment(node.name)
    budgets = {it.owner: max(1, spec.max_replicas // 2) for it in items}
    return Snapshot(tuple(nodes), tuple(items), where, budgets)


@dataclass(frozen=True)
class VmClusterSpec:
    hosts: int = 20
    clusters: int = 1
    target_utilization: float = 0.75
    unschedulable_share: float = 0.05
    pinned_share: float = 0.05
    deployment_sets: int = 3
    deployment_set_size: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hosts", "clusters"):
            if getattr(self, name) < 1:
                raise DomainError(name, "must be at least 1")
        for name in ("deployment_sets", "deployment_set_size"):
            if getattr(self, name) < 0:
                raise DomainError(name, "must not be negative")
        for name in ("target_utilization", "unschedulable_share", "pinned_share"):
            _share(getattr(self, name), name)


def _host(rng: random.Random, i: int, spec: VmClusterSpec) -> Node:
    cores = rng.choice(NUMA_CORES)
    per = Resources.of({CPU_CORES: cores, MEMORY_MB: cores * MIB_PER_CORE})
    cluster = f"cluster-{i % spec.clusters}"
    return Node(
        f"host-{i}",
        per + per,
        labels={HOSTNAME_KEY: f"host-{i}", CLUSTER_KEY: cluster},
        numa=(NumaNode(per), NumaNode(per)),
        schedulable=rng.random() >= spec.unschedulable_share,
        cluster=cluster,
    )


def _vm(rng: random.Random, j: int, cluster: str, spec: VmClusterSpec) -> Item:
    cores = rng.choices(VM_CORES, VM_CORE_WEIGHTS)[0]
    return Item(
        f"vm-{j}",
        Resources.of({CPU_CORES: cores, MEMORY_MB: cores * rng.choice(VM_MB_PER_CORE)}),
        namespace=cluster,
        movable=rng.random() >= spec.pinned_share,
        evictable=False,
        numa_split=cores >= SPLIT_MIN_CORES,
        kind="vm",
        cluster=cluster,
    )


def _numa_fit(vm: Item, free: list[dict[str, int]]) -> tuple[int, ...] | None:
    """NUMA nodes of one host that can take ``vm`` (both halves when split)."""
    if vm.numa_split:
        half = {r: q // 2 for r, q in vm.requests.items()}
        ok = all(all(f.get(r, 0) >= q for r, q in half.items()) for f in free)
        return (0, 1) if ok else None
    fits = [k for k, f in enumerate(free) if vm.requests.fits_in(f)]
    return (fits[0],) if fits else None


def _with_deployment_sets(
    rng: random.Random, vms: list[Item], where: dict[str, Assignment], spec: VmClusterSpec
) -> list[Item]:
    """Put some VMs in host-level anti-affinity sets, members of a set on
    distinct hosts of one cluster (so the placement stays feasible)."""
    out = list(vms)
    pool = list(range(len(vms)))
    rng.shuffle(pool)
    for s in range(spec.deployment_sets):
        label = {DEPLOYMENT_SET_LABEL: f"ds-{s}"}
        term = AffinityTerm(LabelSelector(label), HOSTNAME_KEY)
        members: list[int] = []
        for m in pool:
            hosts = {where[out[k].item_id].node for k in members}
            same_cluster = not members or out[members[0]].cluster == out[m].cluster
            if same_cluster and where[out[m].item_id].node not in hosts:
                members.append(m)
            if len(members) == spec.deployment_set_size:
                break
        for m in members:
            out[m] = replace(out[m], labels=label, anti_affinity=(term,))
            pool.remove(m)
    return out


MAX_MISSES = 50  # consecutive VMs that found no host before the fill stops


def vm_cluster(spec: VmClusterSpec | None = None) -> Snapshot:
    """A NUMA VM cluster snapshot (every VM placed); see the module docstring."""
    spec = spec or VmClusterSpec()
    rng = random.Random(spec.seed)
    hosts = [_host(rng, i, spec) for i in range(spec.hosts)]
    free = {h.name: [dict(n.capacity.items()) for n in h.numa] for h in hosts}
    target = spec.target_utilization * sum(h.capacity[CPU_CORES] for h in hosts)
    vms: list[Item] = []
    where: dict[str, Assignment] = {}
    used = misses = 0
    while used < target and misses < MAX_MISSES:
        vm = _vm(rng, len(vms), f"cluster-{rng.randrange(spec.clusters)}", spec)
        spot = _random_fit(rng, vm, [h for h in hosts if h.cluster == vm.cluster], free)
        if spot is None:
            misses += 1
            continue
        misses = 0
        for k in spot.numa:
            for r, q in vm.requests.items():
                free[spot.node][k][r] -= q // len(spot.numa)
        vms.append(vm)
        where[vm.item_id] = spot
        used += vm.requests[CPU_CORES]
    vms = _with_deployment_sets(rng, vms, where, spec)
    return Snapshot(tuple(hosts), tuple(vms), where)


def _random_fit(
    rng: random.Random, vm: Item, hosts: list[Node], free: dict[str, list[dict[str, int]]]
) -> Assignment | None:
    for h in rng.sample(hosts, len(hosts)):
        numa = _numa_fit(vm, free[h.name])
        if numa is not None:
            return Assignment(h.name, numa)
    return None
