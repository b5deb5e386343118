"""Pair moves: two migrations that lower the fragment rate together where
neither does alone, the local optimum greedy stops at.

With ``F`` the fragment size, a unit's remainder ``e mod F`` drops only when
its free CPU crosses a multiple of ``F``. Where no single move crosses one
more often than it uncrosses one, two moves sharing a host still can:

* *out, out*: two VMs leave one host; together they free enough to complete
  a fragment there (two 2-core VMs from a node with 12 of 16 free);
* *in, in*: two VMs fill one host's free block together, each completing a
  fragment at its source (two 8-core VMs into an empty 16-core block);
* *out, in*: a VM leaves a host and makes room for another to arrive.

Every move changes only the units of its source and destination, so a pair
that helps shares a host, the *core*. The search scores every core at once
(vectorized over hosts or VMs): the change at the core is computed exactly,
and the far end of each move (the destination of a VM leaving the core, the
source of a VM arriving) is the best one of its shape elsewhere, from short
lists ranked by their own change of the fragment rate. The best-ranked
candidates are then replayed on a copy of the state with its own
feasibility checks (capacity, anti-affinity, executable order) and the first
that really lowers the fragment rate is taken.

:func:`improve` alternates greedy single moves with pair moves until the
migration limit, the deadline, or neither improves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optsched.solvers.reschedule.greedy import (
    IMPROVEMENT_EPS,
    destinations,
    greedy,
    placement_overlap,
    shapes,
    sources,
)
from optsched.solvers.reschedule.state import RescheduleState, unit_terms

LIST_LEN = 12  # far ends kept per shape, best first
VERIFY = 48  # candidates replayed exactly per search, best estimate first

Move = tuple[int, int, tuple[int, ...]]  # (vm, host, numa)


@dataclass(frozen=True)
class PairMove:
    """Two migrations, in an executable order, and the fragment rate after."""

    first: Move
    second: Move
    fr: float


@dataclass(frozen=True)
class _Lists:
    """Per shape ``s`` (movable VMs of one cluster, request and split) the
    best far ends, ``[S, L]`` arrays, best first, host -1 padding:

    * ``out_*``: destinations of a VM of the shape leaving anywhere (host,
      placement index, change of R and T there);
    * ``in_*``: sources of a VM of the shape arriving anywhere (the VM, its
      host and placement index, change of R and T there), one VM per source
      placement.
    """

    rep: np.ndarray  # [S] a VM of the shape
    out_host: np.ndarray
    out_place: np.ndarray
    out_r: np.ndarray
    out_t: np.ndarray
    in_vm: np.ndarray
    in_host: np.ndarray
    in_place: np.ndarray
    in_r: np.ndarray
    in_t: np.ndarray

    def at(self, name: str, s: np.ndarray, i: np.ndarray) -> np.ndarray:
        """``name``'s entry ``i`` of shape ``s`` (0 where ``i`` is -1)."""
        col: np.ndarray = getattr(self, name)[s, np.maximum(i, 0)]
        return np.where(i >= 0, col, 0)


def _terms(state: RescheduleState, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(remainder, effective free CPU) of units with free amounts ``free`` [..., R]."""
    p = state.problem
    mem = free[..., state.mem_col] if state.mem_col >= 0 else None
    return unit_terms(free[..., state.cpu_col], mem, p.fragment_cores, p.memory_per_core_mb)


def _host_change(
    state: RescheduleState, hosts: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[n] change of (R, T) if the units of ``hosts`` [n] had free amounts
    ``free`` [n, K, R] instead of their own."""
    r0, t0 = _terms(state, state.numa_free[hosts])
    r1, t1 = _terms(state, free)
    counted = state.counted_units()[hosts]
    return (
        np.where(counted, r1 - r0, 0).sum(axis=1),
        np.where(counted, t1 - t0, 0).sum(axis=1),
    )


def _rate(state: RescheduleState, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The fragment rate after changes ``r`` of R and ``t`` of T."""
    den = state.free_sum + t
    return np.where(den > 0, (state.frag_sum + r) / np.maximum(den, 1), 0.0)


def _pad(a: np.ndarray) -> np.ndarray:
    out = np.full(LIST_LEN, -1, dtype=np.int64)
    out[: min(len(a), LIST_LEN)] = a[:LIST_LEN]
    return out


def _lists(state: RescheduleState, groups: list[list[int]]) -> _Lists:
    rows: dict[str, list[np.ndarray]] = {f: [] for f in _Lists.__dataclass_fields__}
    n_p = len(state.placements)
    for vms in groups:
        vm = vms[0]
        b, d, fits, _ = destinations(state, vm)
        flat = np.flatnonzero(fits)
        flat = flat[np.argsort(_rate(state, b.ravel()[flat], d.ravel()[flat]), kind="stable")]
        src, a, c = sources(state, vms)
        order = np.argsort(_rate(state, a, c), kind="stable")
        src, a, c = src[order], a[order], c[order]
        rows["rep"].append(np.array(vm))
        for name, col in (
            ("out_host", flat // n_p),
            ("out_place", flat % n_p),
            ("out_r", b.ravel()[flat]),
            ("out_t", d.ravel()[flat]),
            ("in_vm", src),
            ("in_host", state.vm_host[src]),
            ("in_place", state.vm_place[src]),
            ("in_r", a),
            ("in_t", c),
        ):
            rows[name].append(_pad(col))
    return _Lists(**{k: np.stack(v) for k, v in rows.items()})


def _first(
    hosts: np.ndarray,
    places: np.ndarray,
    core: np.ndarray,
    taken: tuple[np.ndarray, np.ndarray] | None = None,
    overlap: np.ndarray | None = None,
) -> np.ndarray:
    """Per row of a far-end list (``hosts``, ``places`` [n, L]), the first
    column on a host other than ``core`` [n] whose placement shares no unit
    with ``taken`` (host [n], placement [n]: the other move's far end, whose
    change would not add up with this one's; ``overlap`` [P, P] says which
    placements share a unit); -1 where there is none."""
    ok = (hosts >= 0) & (hosts != core[:, None])
    if taken is not None and overlap is not None:
        host, place = taken
        ok &= ~((hosts == host[:, None]) & overlap[places, place[:, None]])
    return np.where(ok.any(axis=1), ok.argmax(axis=1), -1)


def _add_back(state: RescheduleState, free: np.ndarray, vms: np.ndarray) -> None:
    """Add VM ``vms[i]``'s use at its own NUMA nodes back to ``free[i]``
    [n, K, R] (as if it had left)."""
    width = np.where(state.vm_split[vms], 2, 1)
    share = state.vm_req[vms] // width[:, None]
    for slot in (0, 1):
        k = state.vm_numa[vms, slot]
        on = np.nonzero(k >= 0)[0]
        free[on, k[on]] += share[on]


def _same_host_pairs(state: RescheduleState, vms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs of ``vms`` on one host, as two aligned arrays."""
    order = vms[np.argsort(state.vm_host[vms], kind="stable")]
    hosts = state.vm_host[order]
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for k in range(1, len(order)):
        same = hosts[k:] == hosts[:-k]
        if not same.any():
            break
        firsts.append(order[:-k][same])
        seconds.append(order[k:][same])
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


class _Candidates:
    """Estimated pairs below a fragment rate: rows (fr, vm1, host1, place1,
    vm2, host2, place2), the first move made first."""

    def __init__(self, below: float) -> None:
        self.below = below
        self.parts: list[np.ndarray] = []

    def add(self, fr: np.ndarray, ok: np.ndarray, *cols: np.ndarray) -> None:
        keep = ok & (fr < self.below)
        if keep.any():
            self.parts.append(np.column_stack([fr[keep], *(c[keep] for c in cols)]))

    def best(self, n: int) -> np.ndarray:
        if not self.parts:
            return np.zeros((0, 7))
        rows = np.concatenate(self.parts)
        return rows[np.argsort(rows[:, 0], kind="stable")[:n]]


def _out_out(state: RescheduleState, ls: _Lists, shape_of: np.ndarray, out: _Candidates) -> None:
    """Two VMs leave one host."""
    v1, v2 = _same_host_pairs(state, np.nonzero(shape_of >= 0)[0])
    if not v1.size:
        return
    h = state.vm_host[v1]
    free = state.numa_free[h].copy()
    _add_back(state, free, v1)
    _add_back(state, free, v2)
    r, t = _host_change(state, h, free)
    a = _Far(ls, "out", shape_of[v1], len(v1), h)
    b = _Far(ls, "out", shape_of[v2], len(v1), h, (a.host, a.place), placement_overlap(state))
    out.add(
        _rate(state, r + a.r + b.r, t + a.t + b.t),
        a.ok & b.ok,
        v1,
        a.host,
        a.place,
        v2,
        b.host,
        b.place,
    )


def _take(state: RescheduleState, free: np.ndarray, place: int, vm: int) -> None:
    """Take the use of a VM like ``vm`` at placement ``place`` from every
    row of ``free`` [n, K, R], in place."""
    numa = list(state.placements[place])
    free[:, numa] -= state.vm_req[vm] // len(numa)


def _add_fitting(
    state: RescheduleState,
    out: _Candidates,
    core: np.ndarray,
    free: np.ndarray,
    units: list[int],
    ok: np.ndarray,
    far_r: np.ndarray,
    far_t: np.ndarray,
    *cols: np.ndarray,
) -> None:
    """Add the rows of ``cols`` whose core (``core`` [n], free amounts after
    the pair ``free`` [n, K, R]) stays within capacity on ``units`` to
    ``out``, estimated with the far ends' changes ``far_r``, ``far_t``."""
    ok = ok & (free[:, units] >= 0).all(axis=(1, 2))
    r, t = _host_change(state, core, free)
    out.add(_rate(state, r + far_r, t + far_t), ok, *cols)


def _in_in(state: RescheduleState, ls: _Lists, shape_of: np.ndarray, out: _Candidates) -> None:
    """Two VMs arrive on one host, each at a placement of its width."""
    del shape_of  # the arriving VMs are chosen by shape, from the lists
    core = np.arange(state.n_hosts)
    overlap = placement_overlap(state)
    for s1 in range(len(ls.rep)):
        v1 = int(ls.rep[s1])
        a = _Far(ls, "in", s1, state.n_hosts, core)
        for s2 in range(s1, len(ls.rep)):
            v2 = int(ls.rep[s2])
            if state.vm_cluster[v1] != state.vm_cluster[v2]:
                continue
            hosts = state.host_dest & (state.host_cluster == state.vm_cluster[v1])
            hosts &= (state.host_free >= state.vm_req[v1] + state.vm_req[v2]).all(axis=1)
            if not hosts.any():
                continue
            b = _Far(ls, "in", s2, state.n_hosts, core, (a.host, a.place), overlap)
            for p1 in _places(state, v1):
                for p2 in _places(state, v2):
                    if s1 == s2 and p2 < p1:
                        continue
                    units = sorted(set(state.placements[p1]) | set(state.placements[p2]))
                    ok = hosts & a.ok & b.ok & state.numa_valid[:, units].all(axis=1)
                    if not ok.any():
                        continue
                    free = state.numa_free.copy()
                    _take(state, free, p1, v1)
                    _take(state, free, p2, v2)
                    _add_fitting(
                        state,
                        out,
                        core,
                        free,
                        units,
                        ok,
                        a.r + b.r,
                        a.t + b.t,
                        a.vm,
                        core,
                        np.full(state.n_hosts, p1),
                        b.vm,
                        core,
                        np.full(state.n_hosts, p2),
                    )


def _places(state: RescheduleState, vm: int) -> list[int]:
    width = 2 if state.vm_split[vm] else 1
    return [p for p, ks in enumerate(state.placements) if len(ks) == width]


class _Far:
    """The far end chosen for each of ``n`` moves of VMs of shape ``s``
    (one shape for all, or [n] shapes), from the ``side`` ("in" or "out")
    lists: see :func:`_first` for ``core``, ``taken`` and ``overlap``."""

    def __init__(
        self,
        ls: _Lists,
        side: str,
        s: int | np.ndarray,
        n: int,
        core: np.ndarray,
        taken: tuple[np.ndarray, np.ndarray] | None = None,
        overlap: np.ndarray | None = None,
    ) -> None:
        shape = np.broadcast_to(np.asarray(s), (n,))
        i = _first(
            getattr(ls, f"{side}_host")[shape],
            getattr(ls, f"{side}_place")[shape],
            core,
            taken,
            overlap,
        )
        self.ok = i >= 0
        self.host = np.where(self.ok, ls.at(f"{side}_host", shape, i), -1)
        self.place = ls.at(f"{side}_place", shape, i)
        self.r = ls.at(f"{side}_r", shape, i)
        self.t = ls.at(f"{side}_t", shape, i)
        self.vm = ls.at("in_vm", shape, i) if side == "in" else np.full(n, -1)


def _out_in(state: RescheduleState, ls: _Lists, shape_of: np.ndarray, out: _Candidates) -> None:
    """A VM leaves a host, then a VM of another placement arrives there."""
    v2 = np.nonzero(shape_of >= 0)[0]
    core = state.vm_host[v2]
    gone = _Far(ls, "out", shape_of[v2], len(v2), core)
    base = state.numa_free[core].copy()
    _add_back(state, base, v2)
    host_base = state.host_free[core] + state.vm_req[v2]
    overlap = placement_overlap(state)
    for s1, v1 in enumerate(ls.rep):
        v1 = int(v1)
        hosts = state.host_dest[core] & (state.host_cluster[core] == state.vm_cluster[v1])
        hosts &= (host_base >= state.vm_req[v1]).all(axis=1) & gone.ok
        if not hosts.any():
            continue
        come = _Far(ls, "in", s1, len(v2), core, (gone.host, gone.place), overlap)
        for p1 in _places(state, v1):
            units = list(state.placements[p1])
            ok = hosts & come.ok & state.numa_valid[core][:, units].all(axis=1)
            if not ok.any():
                continue
            free = base.copy()
            _take(state, free, p1, v1)
            _add_fitting(
                state,
                out,
                core,
                free,
                units,
                ok,
                gone.r + come.r,
                gone.t + come.t,
                v2,
                gone.host,
                gone.place,
                come.vm,
                core,
                np.full(len(v2), p1),
            )


def best_pair(state: RescheduleState, vms: np.ndarray | None = None) -> PairMove | None:
    """A pair of migrations of ``vms`` (default: every movable VM) that
    lowers the fragment rate, replayed and checked on a copy of ``state``;
    None when none is found. The kinds are searched in turn (out-out,
    out-in, in-in: the cheapest and, on the shipped snapshots, the most
    fruitful first), and the first kind with a pair that checks gives its
    best."""
    # anti-affinity apart would make many shapes; the replay checks it
    groups = shapes(state, vms, affinity_apart=False)
    if not groups:
        return None
    ls = _lists(state, groups)
    shape_of = np.full(state.n_vms, -1, dtype=np.int64)
    for s, g in enumerate(groups):
        shape_of[g] = s
    now = state.fragment_rate()
    for search in (_out_out, _out_in, _in_in):  # cheapest, and most often useful, first
        cands = _Candidates(now - IMPROVEMENT_EPS)
        search(state, ls, shape_of, cands)
        found = _replay(state, cands.best(VERIFY), now)
        if found is not None:
            return found
    return None


def _replay(state: RescheduleState, rows: np.ndarray, now: float) -> PairMove | None:
    """The first of ``rows`` (see :class:`_Candidates`) that, made in order
    on a copy of ``state`` with its own checks, lowers the fragment rate."""
    for row in rows:
        vm1, h1, p1, vm2, h2, p2 = (int(x) for x in row[1:])
        if vm1 == vm2:
            continue
        first = (vm1, h1, state.placements[p1])
        second = (vm2, h2, state.placements[p2])
        trial = state.copy()
        if not trial.can_move(*first):
            continue
        trial.move(*first, check=False)
        if not trial.can_move(*second):
            continue
        trial.move(*second, check=False)
        if trial.fragment_rate() < now - IMPROVEMENT_EPS:
            return PairMove(first, second, trial.fragment_rate())
    return None


def improve(
    state: RescheduleState,
    max_moves: int,
    deadline: float | None = None,
    vms: np.ndarray | None = None,
) -> int:
    """Greedy single moves, and a pair move where none improves, applied to
    ``state`` in place (at most ``max_moves`` migrations, until ``deadline``
    on ``time.monotonic``); return how many migrations were made."""
    done = 0
    while True:
        done += greedy(state, max_moves - done, deadline, vms)
        if done + 2 > max_moves or (deadline is not None and time.monotonic() >= deadline):
            return done
        pair = best_pair(state, vms)
        if pair is None:
            return done
        state.move(*pair.first)
        state.move(*pair.second)
        done += 2
