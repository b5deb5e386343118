"""Candidate nodes per class, and groups of interchangeable nodes.

Lossless pruning: a class may arrive only on nodes that pass its static rules
(cordon, nodeSelector, taints), that have the topology keys of its required
affinity terms, and whose capacity less the items that can never leave holds
one of its items; it may stay on the nodes where its members run.

When that still leaves more (class, node) pairs than ``max_pairs``, the model
would not build fast enough, so each class keeps only its current nodes, the
nodes of the hint, and the ``k`` nodes with the most room for it after the
hint. That pruning loses optimality: the model's bound is then no proof, and
the solver says so (``stats['lossless'] = False``).

Symmetry: nodes that run nothing now and agree in capacity, NUMA layout,
labels (hostname aside), taints, cordon and candidate classes are
interchangeable in every answer, so the model may order them by load.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from optsched.model import HOSTNAME_KEY, Assignment
from optsched.solvers.placement.classes import ItemClass
from optsched.solvers.placement.topology import Topology

MIN_PRUNED_CANDIDATES = 4


def arrival_masks(
    topo: Topology, classes: list[ItemClass], fixed_used: np.ndarray
) -> list[np.ndarray]:
    """[N] bool per class: lossless arrival candidates."""
    room = topo.cc.capacity - fixed_used
    out = []
    for c in classes:
        if not c.pending and not c.may_move:
            out.append(np.zeros(topo.cc.n_nodes, dtype=bool))
            continue
        mask = topo.arrival_ok(c.rep) & (room >= topo.cc.requests[c.rep]).all(axis=1)
        for t in topo.aff[c.rep]:
            mask &= topo.domains[topo.terms[t][0].topology_key] >= 0
        out.append(mask)
    return out


def prune(
    topo: Topology,
    classes: list[ItemClass],
    masks: list[np.ndarray],
    hint: Mapping[str, Assignment] | None,
    max_pairs: int,
) -> tuple[list[np.ndarray], bool]:
    """Candidate node indices per class (arrivals and current nodes), and
    whether the pruning was lossless."""
    current = [np.array(sorted({n for n, _ in c.running}), dtype=np.int64) for c in classes]
    total = sum(int(m.sum()) for m in masks)
    if total <= max_pairs:
        return [
            np.union1d(np.nonzero(m)[0], cur) for m, cur in zip(masks, current, strict=True)
        ], True
    snap = topo.cc.snapshot
    free = topo.cc.capacity.copy()
    hinted: dict[int, set[int]] = defaultdict(set)
    for i, a in (hint or snap.assignments).items():
        m = snap.item_index[i]
        free[snap.node_index[a.node]] -= topo.cc.requests[m]
    if hint is not None:
        member_class = {m: c.index for c in classes for m in c.members}
        for i, a in hint.items():
            hinted[member_class[snap.item_index[i]]].add(snap.node_index[a.node])
    # classes with pending members get the larger share of the pairs; those
    # that only run may stay or go to a few of the roomiest nodes
    n_pending = sum(1 for c in classes if c.pending)
    k_run = MIN_PRUNED_CANDIDATES
    k_pend = max(k_run, (max_pairs - k_run * (len(classes) - n_pending)) // max(1, n_pending))
    out = []
    for c, mask, cur in zip(classes, masks, current, strict=True):
        k = k_pend if c.pending else k_run
        req = topo.cc.requests[c.rep]
        cols = req > 0
        fit = np.where(
            cols.any(),
            (free[:, cols] // np.maximum(req[cols], 1)).min(axis=1) if cols.any() else 0,
            0,
        )
        idx = np.nonzero(mask)[0]
        if len(idx) > k:
            order = np.argsort(-fit[idx], kind="stable")[:k]
            idx = idx[order]
        extra = np.array(sorted(hinted.get(c.index, set())), dtype=np.int64)
        out.append(np.union1d(np.union1d(idx, cur), extra))
    return out, False


def symmetric_groups(
    topo: Topology, classes: list[ItemClass], cands: list[np.ndarray]
) -> list[list[int]]:
    """Groups (two or more) of interchangeable nodes, in snapshot order."""
    snap = topo.cc.snapshot
    busy = np.zeros(topo.cc.n_nodes, dtype=bool)
    for c in classes:
        for n, _ in c.running:
            busy[n] = True
    if any(HOSTNAME_KEY in snap.items[c.rep].node_selector for c in classes):
        return []
    served: dict[int, list[int]] = defaultdict(list)
    for c, nodes in zip(classes, cands, strict=True):
        for n in nodes:
            served[int(n)].append(c.index)
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for n, nd in enumerate(snap.nodes):
        if busy[n]:
            continue
        labels = tuple(sorted((k, v) for k, v in nd.labels.items() if k != HOSTNAME_KEY))
        key = (
            nd.schedulable,
            labels,
            nd.taints,
            topo.cc.capacity[n].tobytes(),
            topo.cc.numa_capacity[n].tobytes(),
            tuple(served.get(n, ())),
        )
        groups[key].append(n)
    return [g for g in groups.values() if len(g) > 1]
