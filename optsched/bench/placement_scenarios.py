"""Scenario generators for the placement benchmark (not a suite itself).

``priority_matters`` follows the setup of Christensen, Giallorenzo and Mauro,
"Priority Matters: Optimising Kubernetes Clusters Usage with Constraint-Based
Pod Packing" (2025, arXiv 2511.08373), as the issue states it: identical
nodes; a number of pods per node; ReplicaSets of 1-4 replicas, each with a
CPU request of 100-1000 millicores and a memory request of 100-1000 MB and
one of ``levels`` priorities; node capacity set so that the total request is
``utilization`` times the cluster's capacity (the binding resource of the two
is the one whose sizing is exact; the other is rounded up).

``scale`` builds a large cluster in the same style at a given utilization,
with ``pending_share`` of the pods pending and the rest already running,
placed first-fit in a random order (a plausible history, not an optimum).
"""

from __future__ import annotations

import math
import random

import numpy as np

from optsched.model import Assignment, Item, Node, Resources, Snapshot

MB_PER_MIB = 1_048_576 / 1_000_000
PODS_PER_NODE_LIMIT = 110  # kubelet's default maxPods


def _mib(mb: int) -> int:
    return math.ceil(mb / MB_PER_MIB)


def replica_sets(rng: random.Random, n_pods: int, levels: int) -> list[Item]:
    """ReplicaSets of 1-4 replicas until ``n_pods`` pods, in creation order."""
    pods: list[Item] = []
    k = 0
    while len(pods) < n_pods:
        replicas = min(rng.randint(1, 4), n_pods - len(pods))
        cpu = rng.randint(100, 1000)
        mem = _mib(rng.randint(100, 1000))
        prio = rng.randrange(levels) * 10
        owner = f"rs-{k}"
        for r in range(replicas):
            pods.append(
                Item(
                    f"default/{owner}-{r}",
                    Resources.of({"cpu_millis": cpu, "memory_mib": mem, "pods": 1}),
                    priority=prio,
                    owner=owner,
                    labels={"app": owner},
                )
            )
        k += 1
    return pods


def identical_nodes(
    n: int, pods: list[Item], utilization: float, max_pods: int = PODS_PER_NODE_LIMIT
) -> list[Node]:
    cpu = sum(p.requests["cpu_millis"] for p in pods)
    mem = sum(p.requests["memory_mib"] for p in pods)
    cap = {
        "cpu_millis": math.ceil(cpu / (n * utilization)),
        "memory_mib": math.ceil(mem / (n * utilization)),
        "pods": max_pods,
    }
    return [
        Node(f"node-{i:05d}", Resources.of(cap), labels={"kubernetes.io/hostname": f"node-{i:05d}"})
        for i in range(n)
    ]


def priority_matters(
    seed: int, n_nodes: int, pods_per_node: int, levels: int, utilization: float
) -> Snapshot:
    """Every pod pending, in creation order: the scheduler's queue."""
    rng = random.Random(f"pm-{seed}-{n_nodes}-{pods_per_node}-{levels}-{utilization}")
    pods = replica_sets(rng, n_nodes * pods_per_node, levels)
    return Snapshot(tuple(identical_nodes(n_nodes, pods, utilization)), tuple(pods))


def scale(
    seed: int,
    n_nodes: int,
    pods_per_node: int = 10,
    utilization: float = 1.0,
    pending_share: float = 0.05,
    levels: int = 4,
) -> Snapshot:
    rng = random.Random(f"scale-{seed}-{n_nodes}")
    pods = replica_sets(rng, n_nodes * pods_per_node, levels)
    nodes = identical_nodes(n_nodes, pods, utilization)
    order = list(range(len(pods)))
    rng.shuffle(order)
    n_running = len(pods) - int(len(pods) * pending_share)
    names = sorted(nodes[0].capacity)
    free = np.array([[nd.capacity[r] for r in names] for nd in nodes], dtype=np.int64)
    assignments: dict[str, Assignment] = {}
    for j in order[:n_running]:
        req = np.array([pods[j].requests[r] for r in names])
        fits = np.nonzero((free >= req).all(axis=1))[0]
        if len(fits):
            k = int(fits[0])
            free[k] -= req
            assignments[pods[j].item_id] = Assignment(nodes[k].name)
    return Snapshot(tuple(nodes), tuple(pods), assignments)
