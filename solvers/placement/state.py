"""A mutable cluster state for the greedy placement solvers: free capacity per
node (and NUMA node), and per affinity term the number of matching items and
of anti-affinity holders in each topology domain, so that the feasible nodes
of an arriving item are one vectorized mask over all nodes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optsched.model import Assignment
from optsched.solvers.placement.filters import numa_share
from optsched.solvers.placement.topology import Topology


class ClusterState:
    def __init__(self, topo: Topology, assignments: Mapping[str, Assignment] | None = None) -> None:
        """The state of the snapshot, or of ``assignments`` when given."""
        cc = topo.cc
        self.topo = topo
        self.free = cc.capacity.copy()
        self.numa_free = (
            cc.numa_capacity.copy()
            if topo.numa
            else np.zeros((cc.n_nodes, 0, len(cc.resources)), np.int64)
        )
        self.node_of = np.full(cc.n_items, -1, dtype=np.int64)
        self.numa_of: list[tuple[int, ...]] = [()] * cc.n_items
        self._dom = [topo.domains[t.topology_key] for t, _ in topo.terms]
        self._ndom = [int(d.max(initial=-1)) + 1 for d in self._dom]
        self.match_count = [np.zeros(k, np.int64) for k in self._ndom]
        self.holders = [np.zeros(k, np.int64) for k in self._ndom]
        self._is_anti = np.zeros(len(topo.terms), dtype=bool)
        for ts in topo.anti:
            if ts:
                self._is_anti[ts] = True
        self._matched_by = (
            [np.nonzero(topo.matches[:, m])[0] for m in range(cc.n_items)] if topo.terms else None
        )
        # per affinity group g and term t of g: peers of g per domain of t
        self.peer_count = {
            (g, t): np.zeros(self._ndom[t], np.int64)
            for g, ts in enumerate(topo.aff_groups)
            for t in ts
        }
        self._peer_of = (
            [np.nonzero(topo.aff_matches[:, m])[0] for m in range(cc.n_items)]
            if topo.aff_groups
            else None
        )
        snap = cc.snapshot
        for item_id, a in (snap.assignments if assignments is None else assignments).items():
            self.place(
                snap.item_index[item_id], snap.node_index[a.node], a.numa if topo.numa else ()
            )

    def copy(self) -> ClusterState:
        """An independent state equal to this one (the per-term indexes
        derived from the topology are shared: they are never mutated)."""
        new = object.__new__(ClusterState)
        new.__dict__.update(self.__dict__)
        new.free, new.numa_free = self.free.copy(), self.numa_free.copy()
        new.node_of, new.numa_of = self.node_of.copy(), list(self.numa_of)
        new.match_count = [c.copy() for c in self.match_count]
        new.holders = [c.copy() for c in self.holders]
        new.peer_count = {k: c.copy() for k, c in self.peer_count.items()}
        return new

    # -- queries ---------------------------------------------------------

    def broken(self) -> list[int]:
        """Placed items whose node (or NUMA node) is over capacity or whose
        required (anti-)affinity fails: empty for a consistent state."""
        cc = self.topo.cc
        over_nodes = set(np.nonzero((self.free < 0).any(axis=1))[0].tolist())
        if self.topo.numa:
            over_nodes |= set(np.nonzero((self.numa_free < 0).any(axis=(1, 2)))[0].tolist())
        out = [m for m, n in enumerate(self.node_of.tolist()) if n in over_nodes]
        if not self.topo.terms:
            return out
        involved = np.asarray(self.topo.matches.any(axis=0))
        for item in np.nonzero((self.node_of >= 0) & ~np.isin(np.arange(cc.n_items), out))[0]:
            m = int(item)
            if not (involved[m] or self.topo.has_terms(m)):
                continue
            n, numa = int(self.node_of[m]), self.numa_of[m]
            self.remove(m)
            ok = self.fits_on(m, n, numa)
            self.place(m, n, numa)
            if not ok:
                out.append(m)
        return out

    def feasible_nodes(self, m: int) -> np.ndarray:
        """[N] bool: nodes where item ``m`` (not placed) may arrive now."""
        req = self.topo.cc.requests[m]
        mask = self.topo.arrival_ok(m) & (self.free >= req).all(axis=1)
        if self.topo.numa:
            mask &= self._numa_fit_mask(m)
        if self.topo.terms:
            mask &= self._affinity_mask(m)
        return mask

    def fits_on(self, m: int, n: int, numa: tuple[int, ...]) -> bool:
        """Whether item ``m`` (not placed) may arrive on node ``n`` in NUMA
        slot ``numa`` now: capacity, NUMA capacity and affinity (the static
        rules are the caller's, as they do not change over time)."""
        req = self.topo.cc.requests[m]
        if not (self.free[n] >= req).all():
            return False
        for j in numa:
            share = np.array([numa_share(int(q), len(numa)) for q in req])
            if not (self.numa_free[n, j] >= share).all():
                return False
        return not self.topo.terms or bool(self._affinity_mask(m)[n])

    def numa_slot(self, m: int, n: int) -> tuple[int, ...]:
        """The first NUMA node (or pair, for a split item) of node ``n`` that
        holds item ``m``; () when the node has no NUMA layout."""
        k = len(self.topo.cc.snapshot.nodes[n].numa)
        if not self.topo.numa or k == 0:
            return ()
        req = self.topo.cc.requests[m]
        parts = 2 if self.topo.cc.numa_split[m] else 1
        share = np.array([numa_share(int(q), parts) for q in req])
        ok = [j for j in range(k) if (self.numa_free[n, j] >= share).all()]
        return tuple(ok[:parts]) if len(ok) >= parts else ()

    def _numa_fit_mask(self, m: int) -> np.ndarray:
        req = self.topo.cc.requests[m]
        parts = 2 if self.topo.cc.numa_split[m] else 1
        share = np.array([numa_share(int(q), parts) for q in req])
        counts = (self.numa_free >= share).all(axis=2).sum(axis=1)
        has_numa = np.array([len(nd.numa) > 0 for nd in self.topo.cc.snapshot.nodes])
        return np.asarray(~has_numa | (counts >= parts))

    def _affinity_mask(self, m: int) -> np.ndarray:
        topo = self.topo
        mask = np.ones(topo.cc.n_nodes, dtype=bool)
        for t in topo.anti[m]:
            mask &= ~self._in_domains(t, self.match_count[t] > 0)
        assert self._matched_by is not None
        for held in self._matched_by[m]:
            if self._is_anti[held]:
                mask &= ~self._in_domains(int(held), self.holders[held] > 0)
        g = int(topo.aff_group[m])
        if g < 0:
            return mask
        terms = topo.aff_groups[g]
        first = topo.aff_matches[g, m] and not any(self.peer_count[g, t].any() for t in terms)
        for t in terms:
            present = self.peer_count[g, t] > 0
            if first:
                present = np.ones_like(present)  # first-pod rule: no anchored peer anywhere
            mask &= self._in_domains(t, present)
        return mask

    def _in_domains(self, t: int, flags: np.ndarray) -> np.ndarray:
        d = self._dom[t]
        return (
            np.asarray((d >= 0) & flags[np.clip(d, 0, None)])
            if len(flags)
            else np.zeros(len(d), bool)
        )

    # -- updates ---------------------------------------------------------

    def place(self, m: int, n: int, numa: tuple[int, ...] = ()) -> None:
        self._apply(m, n, numa, +1)
        self.node_of[m] = n
        self.numa_of[m] = numa

    def remove(self, m: int) -> None:
        n = int(self.node_of[m])
        self._apply(m, n, self.numa_of[m], -1)
        self.node_of[m] = -1
        self.numa_of[m] = ()

    def _apply(self, m: int, n: int, numa: tuple[int, ...], sign: int) -> None:
        req = self.topo.cc.requests[m]
        if sign > 0:  # in place, without a temporary for sign * req
            self.free[n] -= req
        else:
            self.free[n] += req
        for j in numa:
            self.numa_free[n, j] -= sign * np.array([numa_share(int(q), len(numa)) for q in req])
        if self._matched_by is None:
            return
        for matched in self._matched_by[m]:
            d = int(self._dom[matched][n])
            if d >= 0:
                self.match_count[matched][d] += sign
        for t in self.topo.anti[m]:
            d = int(self._dom[t][n])
            if d >= 0:
                self.holders[t][d] += sign
        if self._peer_of is not None:
            for group in self._peer_of[m]:
                g = int(group)
                for term in self.topo.aff_groups[g]:
                    d = int(self._dom[term][n])
                    if d >= 0:
                        self.peer_count[g, term][d] += sign

    def assignments(self) -> dict[str, Assignment]:
        snap = self.topo.cc.snapshot
        return {
            snap.items[m].item_id: Assignment(snap.nodes[n].name, self.numa_of[m])
            for m, n in enumerate(self.node_of.tolist())
            if n >= 0
        }


def snapshot_state(topo: Topology) -> ClusterState:
    """A fresh state of the snapshot's own assignments. A solver builds it
    several times (its own start, the consistency check, the plan), so it
    is built once per topology and copied."""
    if topo.snapshot_state is None:
        topo.snapshot_state = ClusterState(topo)
    state: ClusterState = topo.snapshot_state.copy()
    return state
