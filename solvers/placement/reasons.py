"""Why an item is left unplaced, in words a person can act on: which rule
excludes how many nodes (cordon, nodeSelector, each taint), which resource
no node has enough of even when empty, which one no node has free in the
final placement, and where affinity rules are what blocks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np

from optsched.model import HOSTNAME_KEY, Assignment, Item
from optsched.results import Unplaced
from optsched.solvers.placement.filters import selector_mismatch, untolerated_taints
from optsched.solvers.placement.state import ClusterState
from optsched.solvers.placement.topology import Topology

MAX_PARTS = 4


def unplaced_reasons(topo: Topology, final: Mapping[str, Assignment]) -> tuple[Unplaced, ...]:
    """A reason for every item the answer leaves pending or evicts."""
    snap = topo.cc.snapshot
    missing = [m for m, it in enumerate(snap.items) if it.item_id not in final]
    if not missing:
        return ()
    state = ClusterState(topo, final)
    out = []
    for m in missing:
        it = snap.items[m]
        text = _explain(topo, state, m)
        if it.item_id in snap.assignments:
            text = f"evicted from {snap.assignments[it.item_id].node} to make room for higher-priority items; {text}"
        out.append(Unplaced(it.item_id, text))
    return tuple(out)


def _needs(topo: Topology, m: int) -> str:
    req = topo.cc.requests[m]
    parts = [f"{r}={int(q)}" for r, q in zip(topo.cc.resources, req, strict=True) if q > 0]
    return "needs " + (", ".join(parts) or "no resources")


def _explain(topo: Topology, state: ClusterState, m: int) -> str:
    snap = topo.cc.snapshot
    it: Item = snap.items[m]
    blocked: Counter[str] = Counter()
    per_node = HOSTNAME_KEY in it.node_selector  # groups ignore the hostname label
    groups = [[n] for g in topo.node_groups for n in g] if per_node else topo.node_groups
    for group in groups:
        node = snap.nodes[group[0]]
        k = len(group)
        if not node.schedulable:
            blocked["cordoned (unschedulable)"] += k
        elif mismatch := selector_mismatch(it, node):
            sel = ",".join(f"{a}={b}" for a, b in sorted(mismatch.items()))
            blocked[f"do not match nodeSelector {sel}"] += k
        elif taints := untolerated_taints(it, node):
            t = taints[0]
            blocked[f"blocked by taint {t.key}={t.value}:{t.effect}"] += k
    allowed = topo.arrival_ok(m)
    req = topo.cc.requests[m]
    parts = _capacity_parts(topo, state, m, allowed, req)
    parts += [f"{k} node{'s' if k > 1 else ''} {why}" for why, k in blocked.most_common(MAX_PARTS)]
    if not parts:
        parts = ["every node is excluded by its rules"]
    return f"{_needs(topo, m)}: " + "; ".join(parts[: MAX_PARTS + 1])


def _capacity_parts(
    topo: Topology, state: ClusterState, m: int, allowed: np.ndarray, req: np.ndarray
) -> list[str]:
    names = topo.cc.resources
    parts: list[str] = []
    too_small = allowed & ~(topo.cc.capacity >= req).all(axis=1)
    big = allowed & ~too_small
    if allowed.any() and not big.any():
        r = int(np.argmax((topo.cc.capacity[allowed] < req).sum(axis=0)))
        best = int(topo.cc.capacity[allowed, r].max())
        parts.append(
            f"no eligible node has {int(req[r])} {names[r]} even when empty (largest: {best})"
        )
    short = big & ~(state.free >= req).all(axis=1)
    if short.any():
        counts = (state.free[short] < req).sum(axis=0)
        r = int(np.argmax(counts))
        most = int(state.free[big, r].max())
        parts.append(
            f"no node has {int(req[r])} free {names[r]} after the plan (most free: {most}; "
            f"{int(short.sum())} eligible nodes short)"
        )
    roomy = big & (state.free >= req).all(axis=1)
    if roomy.any():
        open_now = int((roomy & state.feasible_nodes(m)).sum())
        rules = (
            "NUMA layout or required (anti-)affinity" if topo.numa else "required (anti-)affinity"
        )
        if int(roomy.sum()) > open_now:
            parts.append(f"{int(roomy.sum()) - open_now} nodes with room are excluded by {rules}")
        if open_now:
            parts.append(
                f"{open_now} nodes could still take it (not chosen by this solver, or its "
                "disruption budget / move limit forbade it)"
            )
    return parts
