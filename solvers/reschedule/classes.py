"""Aggregation of interchangeable VMs into classes, and back into moves.

Two movable VMs are interchangeable for the fragment rate and for every
feasibility rule when they have the same cluster, request vector (CPU,
memory, ...), NUMA shape (split or not) and anti-affinity roles (the groups
they own or are members of, e.g. the same deployment set). A *class* is such
a set; the exact model counts how many VMs of a class sit on each placement
instead of deciding where each VM goes, which removes the symmetry between
identical VMs and shrinks the model from one boolean per (VM, host, NUMA) to
one integer per (class, host, placement).

:func:`disaggregate` turns final counts back into concrete moves: on each
placement whose count falls, that many VMs of the class leave (lowest index
first, deterministic) and are paired with the placements whose count rises.
The number of moves is the sum of the decreases, the quantity the model
bounds by the migration limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optsched.solvers.reschedule.state import RescheduleState

Slot = tuple[int, int]  # (host, placement index)
Move = tuple[int, int, tuple[int, ...]]  # (vm, host, NUMA tuple)


@dataclass(frozen=True)
class VmClass:
    cluster: int
    request: tuple[int, ...]  # [R], per VM
    split: bool
    roles: tuple[tuple[int, bool, bool], ...]  # (group, owner, member)
    vms: tuple[int, ...]

    @property
    def width(self) -> int:
        return 2 if self.split else 1

    @property
    def share(self) -> np.ndarray:
        """[R] what one VM of the class uses on each NUMA node it occupies."""
        return np.asarray(self.request, dtype=np.int64) // self.width

    def initial_counts(self, state: RescheduleState) -> dict[Slot, int]:
        out: dict[Slot, int] = {}
        for v in self.vms:
            slot = (int(state.vm_host[v]), int(state.vm_place[v]))
            out[slot] = out.get(slot, 0) + 1
        return out


def vm_classes(state: RescheduleState, vms: np.ndarray) -> list[VmClass]:
    """The classes of the movable VMs among ``vms``, in a stable order."""
    keyed: dict[tuple[object, ...], list[int]] = {}
    for v in vms:
        v = int(v)
        if not state.vm_movable[v]:
            continue
        roles = tuple(
            (g, bool(state.groups[g].owners[v]), bool(state.groups[g].members[v]))
            for g in state.vm_groups[v]
        )
        key = (
            int(state.vm_cluster[v]),
            tuple(int(x) for x in state.vm_req[v]),
            bool(state.vm_split[v]),
            roles,
        )
        keyed.setdefault(key, []).append(v)
    return [
        VmClass(k[0], k[1], k[2], k[3], tuple(vs))  # type: ignore[arg-type]
        for k, vs in sorted(keyed.items(), key=lambda kv: kv[1][0])
    ]


def disaggregate(
    state: RescheduleState, classes: list[VmClass], counts: list[Mapping[Slot, int]]
) -> list[Move]:
    """Concrete moves taking every class from its current to its final counts."""
    moves: list[Move] = []
    for cls, final in zip(classes, counts, strict=True):
        init = cls.initial_counts(state)
        leavers: list[int] = []
        for v in cls.vms:
            slot = (int(state.vm_host[v]), int(state.vm_place[v]))
            if init[slot] > final.get(slot, 0):
                init[slot] -= 1
                leavers.append(v)
        arrivals = [
            slot
            for slot, n in sorted(final.items())
            for _ in range(n - cls.initial_counts(state).get(slot, 0))
        ]
        if len(arrivals) != len(leavers):
            raise ValueError("final counts do not conserve the class")
        moves += [(v, h, state.placements[p]) for v, (h, p) in zip(leavers, arrivals, strict=True)]
    return moves
