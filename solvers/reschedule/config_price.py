"""Pricing for the configuration bound (:mod:`.config_bound`): every host
type's best configuration at the master's prices ``(pi, mu)``, and its
Lagrangian worth ``slots - pi * leaves - mu . (arrivals - leaves)``.

A configuration is what leaves a host (a subset of its movable VMs) and what
arrives on it. For the arrivals, per cluster (unbounded knapsacks, as in the
module docstring of :mod:`.config_bound`): ``g1`` the best worth of width-1
arrivals taking exactly ``x`` CPU on a unit, ``g2`` of width-2 arrivals
taking ``z`` on each unit, ``u[y]`` a unit's best ``floor((y - x) / F) +
g1[x]`` with ``y`` free, and here also ``H[y0, y1] = max_z u[y0 - z] +
u[y1 - z] + g2[z]`` for a two-unit host with ``(y0, y1)`` free after the
leaves (a one-unit host reads ``H[y0, 0] = u[y0]``: nothing arrives on a
unit with nothing free). A host type's worth is then the best, over its leave
sets, of the leaving VMs' worth ``sum (mu[class] - pi)`` plus ``H`` at the
CPU they free.

Leave sets are priced in one batch for all host types (:class:`LeaveSets`).
The VMs of a type fall into groups alike (class, CPU freed on each unit), so
a leave set is a count per group; the sets, the CPU each frees and its
classes are enumerated once, and each round is a sparse product (the sets'
worths), a maximum per freed ``(l0, l1)`` and then per type, and a gather
from ``H``: no Python loop over hosts or VMs. Types with more than
:data:`SETS_PER_TYPE` leave sets (none on the VMR2L snapshots: at most
5,184 on the shipped medium one, 87,230 in all over its 197 types) take an
exact 0/1 knapsack over ``(l0, l1)`` per type instead (:func:`_leave_states`,
about 0.2 ms a type). Both give the same worth, up to float rounding (tested).
Measured on the shipped medium snapshot (197 host types): a round of pricing
took about 80 ms with the per-type knapsack and 3-5 ms batched, after a
set-up of about 0.05 s; the whole bound went from 0.8-1.4 s to 0.25-0.3 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

NEG = -1e18  # an impossible (unreachable) value in the knapsack tables
# leave sets (per group of alike VMs, how many leave) per host type priced in
# the batch; a type with more takes the per-type knapsack
SETS_PER_TYPE = 1 << 14
SETS_IN_ALL = 1 << 21  # memory: the batch keeps a few arrays of this length

ClassKey = tuple[int, int, int]  # (cluster, width, CPU share per unit)


@dataclass(frozen=True)
class HostType:
    """Hosts alike: ``free`` per unit, the movable VMs as (class, CPU freed
    on unit 0, on unit 1), and the flags that decide arrivals and slots."""

    free: tuple[int, ...]
    vms: tuple[tuple[int, int, int], ...]
    cluster: int
    dest: bool
    counted: bool


@dataclass(frozen=True)
class Column:
    """A configuration of a host type: its slots, leaves and net arrivals
    (arrivals - leaves) per class, which of the type's VMs leave (positions
    in :attr:`HostType.vms`) and what arrives where (class, NUMA slots)."""

    type: int
    slots: int
    leaves: np.ndarray
    net: np.ndarray
    leave_at: tuple[int, ...]
    arrive: tuple[tuple[int, tuple[int, ...]], ...]


@dataclass
class _Arrivals:
    """Per cluster, for the current prices: ``g1[x]`` the best worth of
    width-1 arrivals taking exactly ``x`` CPU on a unit (``arg1`` the last
    class), ``g2[z]`` of width-2 arrivals taking ``z`` on each unit, per
    unit ``u[y]`` = max over ``x <= y`` of ``floor((y - x) / F) + g1[x]``
    (``ux`` the best ``x``), and ``h[y0, y1]`` the best two-unit host's
    arrivals (module docstring; ``hz`` the best ``z``)."""

    g1: np.ndarray
    arg1: np.ndarray
    g2: np.ndarray
    arg2: np.ndarray
    u: np.ndarray
    ux: np.ndarray
    h: np.ndarray
    hz: np.ndarray


def _knapsack(items: list[tuple[int, int]], worth: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Unbounded knapsack: the best total worth of items (class, CPU) taking
    exactly ``x`` CPU, for every ``x < size``; and the last item's class."""
    g = np.full(size, NEG)
    g[0] = 0.0
    arg = np.full(size, -1, dtype=np.int64)
    for x in range(1, size):
        for c, s in items:
            if s <= x and g[x - s] > NEG / 2 and g[x - s] + worth[c] > g[x]:
                g[x], arg[x] = g[x - s] + worth[c], c
    return g, arg


def _pairs(u: np.ndarray, g2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``h[y0, y1] = max_z u[y0 - z] + u[y1 - z] + g2[z]`` and the best ``z``."""
    size = len(u)
    h = u[:, None] + u[None, :]  # z = 0: g2[0] = 0
    hz = np.zeros((size, size), dtype=np.int64)
    for z in np.nonzero(g2[1:] > NEG / 2)[0] + 1:
        n = size - int(z)
        cand = u[:n, None] + u[None, :n] + g2[z]
        sub, at = h[z:, z:], hz[z:, z:]
        better = cand > sub
        sub[better] = cand[better]
        at[better] = z
    return h, hz


def arrivals(
    classes: list[ClassKey], cluster: int, mu: np.ndarray, size: int, f: int, counted: bool
) -> _Arrivals:
    """The arrivals' tables for a destination host of ``cluster``."""
    worth = -mu
    w1 = [(c, s) for c, (cl, w, s) in enumerate(classes) if cl == cluster and w == 1 and s > 0]
    w2 = [(c, s) for c, (cl, w, s) in enumerate(classes) if cl == cluster and w == 2 and s > 0]
    g1, arg1 = _knapsack(w1, worth, size)
    g2, arg2 = _knapsack(w2, worth, size)
    y = np.arange(size)
    gain = (y[:, None] - y[None, :]) // f if counted else np.zeros((size, size), dtype=np.int64)
    table = np.where(y[None, :] <= y[:, None], gain + g1[None, :], NEG)
    ux = table.argmax(axis=1)
    u = table[y, ux]
    return _Arrivals(g1, arg1, g2, arg2, u, ux, *_pairs(u, g2))


def no_arrivals(size: int, f: int, counted: bool) -> _Arrivals:
    """The tables of a host nothing may arrive on."""
    g = np.full(size, NEG)
    g[0] = 0.0
    none = np.full(size, -1, dtype=np.int64)
    y = np.arange(size)
    u = (y // f).astype(float) if counted else np.zeros(size)
    return _Arrivals(
        g, none, g.copy(), none.copy(), u, np.zeros(size, dtype=np.int64), *_pairs(u, g)
    )


def column(
    i: int,
    t: HostType,
    arr: _Arrivals,
    leave_at: tuple[int, ...],
    out: tuple[int, int],
    z: int,
    f: int,
    classes: list[ClassKey],
) -> Column:
    """Host type ``i``'s configuration in which the VMs at ``leave_at`` leave
    (freeing ``out`` per unit), ``z`` of width-2 arrivals take each unit and
    each unit then takes its best width-1 arrivals."""
    leaves = np.zeros(len(classes))
    for j in leave_at:
        leaves[t.vms[j][0]] += 1
    arrive: list[tuple[int, tuple[int, ...]]] = [(c, (0, 1)) for c in _unwind(arr.arg2, z, classes)]
    slots = 0
    for k in range(len(t.free)):
        y = t.free[k] + out[k] - z
        x = int(arr.ux[y])
        arrive += [(c, (k,)) for c in _unwind(arr.arg1, x, classes)]
        slots += (y - x) // f if t.counted else 0
    arrived = np.zeros(len(classes))
    for c, _ in arrive:
        arrived[c] += 1
    return Column(i, slots, leaves, arrived - leaves, leave_at, tuple(arrive))


def _unwind(arg: np.ndarray, x: int, classes: list[ClassKey]) -> list[int]:
    """The classes of the arrivals of a knapsack position ``x``."""
    out = []
    while x > 0:
        c = int(arg[x])
        out.append(c)
        x -= classes[c][2]
    return out


def _leave_states(
    t: HostType, mu: np.ndarray, pi: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """0/1 knapsack over the host type's movable VMs on the CPU they free per
    unit, each leaving VM worth ``mu[class] - pi``: the reachable states
    ``(l0, l1)``, their best worth, and per VM the table of whether it leaves
    in the best set for each state (for :func:`_leaving`)."""
    two = len(t.free) == 2
    shape = (sum(v[1] for v in t.vms) + 1, sum(v[2] for v in t.vms) + 1 if two else 1)
    best = np.full(shape, NEG)
    best[0, 0] = 0.0
    took = []
    for c, d0, d1 in t.vms:
        cand = np.full(shape, NEG)
        cand[d0:, d1:] = best[: shape[0] - d0, : shape[1] - d1] + (mu[c] - pi)
        take = cand > best
        best = np.where(take, cand, best)
        took.append(take)
    l0, l1 = np.nonzero(best > NEG / 2)
    return l0, l1, best[l0, l1], took


def _leaving(t: HostType, took: list[np.ndarray], l0: int, l1: int) -> tuple[int, ...]:
    """The VMs (positions) of the best set freeing ``(l0, l1)``."""
    out = []
    for j in range(len(t.vms) - 1, -1, -1):
        if took[j][l0, l1]:
            out.append(j)
            l0 -= t.vms[j][1]
            l1 -= t.vms[j][2]
    return tuple(sorted(out))


def price_one(
    i: int, t: HostType, arr: _Arrivals, mu: np.ndarray, pi: float, f: int, classes: list[ClassKey]
) -> tuple[float, Column]:
    """Host type ``i``'s best configuration at prices ``(pi, mu)`` and its
    Lagrangian worth, by the per-type knapsack over its leave states."""
    l0, l1, worth_left, took = _leave_states(t, mu, pi)
    y0 = t.free[0] + l0
    y1 = t.free[1] + l1 if len(t.free) == 2 else np.zeros_like(l0)
    total = worth_left + arr.h[y0, y1]
    e = int(total.argmax())
    z = int(arr.hz[y0[e], y1[e]])
    out = (int(l0[e]), int(l1[e]))
    return float(total[e]), column(i, t, arr, _leaving(t, took, *out), out, z, f, classes)


Groups = list[tuple[tuple[int, int, int], list[int]]]


def _groups(t: HostType) -> Groups:
    """The type's VMs alike (class, CPU freed per unit) and their positions."""
    at: dict[tuple[int, int, int], list[int]] = {}
    for j, v in enumerate(t.vms):
        at.setdefault(v, []).append(j)
    return sorted(at.items())


def _shape(groups: Groups) -> list[int]:
    """How many of each group may leave, plus one: a type's leave sets are
    the cells of an array of this shape."""
    return [len(p) + 1 for _, p in groups]


def _counts(groups: Groups) -> np.ndarray:
    """Every leave set of a type: how many of each group leave (one row each)."""
    if not groups:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices(_shape(groups)).reshape(len(groups), -1).T


class LeaveSets:
    """The leave sets of some host types, enumerated once and priced together
    (module docstring): per type its ``groups`` of alike VMs, its ``free``
    CPU per unit and its arrivals table ``key``."""

    def __init__(
        self,
        groups: list[Groups],
        free: list[tuple[int, ...]],
        key: np.ndarray,
        n_classes: int,
        size: int,
    ):
        self.groups = groups
        owner, freed, rows, cols, data, local = [], [], [], [], [], []
        offset = 0
        for b, alike in enumerate(groups):
            counts = _counts(alike)
            n = len(counts)
            d = np.array([g[1:] for g, _ in alike], dtype=np.int64).reshape(-1, 2)
            freed.append(counts @ d)
            r, g = np.nonzero(counts)
            rows.append(r + offset)
            cols.append(np.array([c for (c, *_), _ in alike], dtype=np.int64)[g])
            data.append(counts[r, g].astype(float))
            owner.append(np.full(n, b, dtype=np.int64))
            local.append(np.arange(n))
            offset += n
        whose = np.concatenate(owner)
        both = np.concatenate(freed)
        # one state per (type, l0, l1): sets sorted by state, states by type
        code = (whose * size + both[:, 0]) * size + both[:, 1]
        order = np.argsort(code, kind="stable")
        code = code[order]
        self.set_starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
        self.local = np.concatenate(local)[order]
        matrix = sp.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=(offset, n_classes),
        )
        self.sets = matrix[order]
        state = code[self.set_starts]
        self.state_owner = state // (size * size)
        self.state_l = np.stack([(state // size) % size, state % size], axis=1)
        self.type_starts = np.flatnonzero(
            np.r_[True, self.state_owner[1:] != self.state_owner[:-1]]
        )
        # free CPU per unit after the leaves (a one-unit host reads h[y0, 0])
        units = np.array([(list(u) + [0])[:2] for u in free], dtype=np.int64)
        self.y = units[self.state_owner] + self.state_l
        self.state_key = key[self.state_owner]
        self.set_state = np.repeat(np.arange(len(state)), np.diff(np.r_[self.set_starts, offset]))
        self.shape = [_shape(g) for g in groups]
        self.worth = np.zeros(0)
        self.state_of = np.zeros(0, dtype=np.int64)  # per batched type, its best state
        self.set_of = np.zeros(0, dtype=np.int64)  # per state, its best leave set

    def price(self, mu: np.ndarray, pi: float, h: np.ndarray) -> np.ndarray:
        """Each batched type's Lagrangian worth at prices ``(pi, mu)``;
        ``h[key]`` the arrivals' pair table of each arrivals key."""
        self.worth = self.sets @ (mu - pi)
        best_set = np.maximum.reduceat(self.worth, self.set_starts)
        self.set_of = _first(self.worth >= best_set[self.set_state], self.set_state)
        total = best_set + h[self.state_key, self.y[:, 0], self.y[:, 1]]
        best = np.maximum.reduceat(total, self.type_starts)
        self.state_of = _first(total >= best[self.state_owner], self.state_owner)
        return best  # type: ignore[no-any-return]

    def best(self, b: int) -> tuple[tuple[int, ...], tuple[int, int], tuple[int, int]]:
        """The ``b``-th batched type's best leave set at the last prices: the
        leaving VMs' positions, the CPU they free and the free CPU after."""
        s = int(self.state_of[b])
        x = int(self.local[self.set_of[s]])
        leave_at: list[int] = []
        for (_, at), n in zip(reversed(self.groups[b]), reversed(self.shape[b]), strict=True):
            x, k = divmod(x, n)  # np.indices order: the last group varies fastest
            leave_at += at[:k]
        out = (int(self.state_l[s, 0]), int(self.state_l[s, 1]))
        return tuple(sorted(leave_at)), out, (int(self.y[s, 0]), int(self.y[s, 1]))


def _first(hit: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Per segment (``segment`` sorted, every one present), the first index
    where ``hit`` holds (each segment has one: its maximum)."""
    at = np.flatnonzero(hit)
    seg = segment[at]
    return at[np.r_[True, seg[1:] != seg[:-1]]]


class Pricing:
    """Every host type's best configuration and worth per round of column
    generation: the batch where a type's leave sets are few enough, the
    per-type knapsack otherwise (module docstring)."""

    def __init__(self, types: list[HostType], classes: list[ClassKey], f: int):
        self.types, self.classes, self.f = types, classes, f
        self.size = 1 + max(
            (t.free[k] + sum(v[1 + k] for v in t.vms) for t in types for k in range(len(t.free))),
            default=0,
        )
        keys: dict[tuple[int, bool, bool], int] = {}
        self.key = np.array(
            [keys.setdefault((t.cluster, t.dest, t.counted), len(keys)) for t in types],
            dtype=np.int64,
        )
        self.keys = list(keys)
        groups = [_groups(t) for t in types]
        sets = [math.prod(_shape(g)) for g in groups]
        batched: list[int] = []
        room = SETS_IN_ALL
        for i in sorted(range(len(types)), key=sets.__getitem__):
            if sets[i] <= min(SETS_PER_TYPE, room):
                batched.append(i)
                room -= sets[i]
        batched.sort()
        self.batched = np.array(batched, dtype=np.int64)
        self.one_by_one = sorted(set(range(len(types))) - set(batched))
        self.batch = (
            LeaveSets(
                [groups[i] for i in batched],
                [types[i].free for i in batched],
                self.key[batched],
                len(classes),
                self.size,
            )
            if batched
            else None
        )
        self.position = {i: b for b, i in enumerate(batched)}
        self.tables: list[_Arrivals] = []
        self.found: dict[int, Column] = {}

    def round(self, mu: np.ndarray, pi: float) -> np.ndarray:
        """Each host type's Lagrangian worth at prices ``(pi, mu)``."""
        f, size = self.f, self.size
        self.tables = [
            arrivals(self.classes, cluster, mu, size, f, counted)
            if dest
            else no_arrivals(size, f, counted)
            for cluster, dest, counted in self.keys
        ]
        worth = np.empty(len(self.types))
        if self.batch is not None:
            h = np.stack([a.h for a in self.tables])
            worth[self.batched] = self.batch.price(mu, pi, h)
        self.found = {}
        for i in self.one_by_one:
            t = self.types[i]
            worth[i], self.found[i] = price_one(
                i, t, self.tables[self.key[i]], mu, pi, f, self.classes
            )
        return worth

    def column(self, i: int) -> Column:
        """Host type ``i``'s best configuration at the last round's prices."""
        if i in self.found:
            return self.found[i]
        assert self.batch is not None
        leave_at, out, y = self.batch.best(self.position[i])
        arr = self.tables[self.key[i]]
        return column(i, self.types[i], arr, leave_at, out, int(arr.hz[y]), self.f, self.classes)
