"""Ordering a set of migrations so that it can be executed one at a time.

The exact model decides where VMs end, not the order: the end state is
feasible, but a move may need room that another pending move frees first,
and moves may wait on each other in a cycle (a swap of two VMs on two full
hosts). :func:`sequence` applies the moves to a state:

1. repeatedly make every pending move that is feasible now (its destination
   has room and it breaks no anti-affinity rule);
2. when none is, build the wait-for graph (networkx ``DiGraph``): an edge
   ``a -> b`` when ``b`` still sits on the host ``a`` goes to, or in a
   topology domain ``a``'s VM must not share with it; find a cycle and break
   it by parking one of its VMs on a host with room (the parking host is
   preferably not the destination of another pending move; the VM then moves
   on to its destination later). Parking is an extra migration, so it is
   done only while the total stays within the migration limit;
3. when a cycle cannot be broken (no host with room for any VM of the cycle,
   or the limit is reached), stop and report the cycle: the moves applied so
   far are an executable plan on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from optsched.solvers.reschedule.classes import Move
from optsched.solvers.reschedule.state import RescheduleState


@dataclass(frozen=True)
class Sequenced:
    parked: int  # extra migrations made to break cycles
    unresolved: tuple[Move, ...]  # moves left when a cycle could not be broken
    message: str

    @property
    def complete(self) -> bool:
        return not self.unresolved


def _apply_ready(state: RescheduleState, pending: list[Move]) -> list[Move]:
    progress = True
    while progress and pending:
        progress = False
        left: list[Move] = []
        for vm, host, numa in pending:
            if state.placement_of(vm) == (host, numa):
                continue  # already there (a parked VM that found its way back)
            if state.can_move(vm, host, numa):
                state.move(vm, host, numa, check=False)
                progress = True
            else:
                left.append((vm, host, numa))
        pending = left
    return pending


def wait_for_graph(state: RescheduleState, pending: list[Move]) -> nx.DiGraph:
    """Edges ``a -> b`` (indices into ``pending``) when move ``a`` waits on ``b``."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(pending)))
    src = [int(state.vm_host[vm]) for vm, _, _ in pending]
    for a, (vm_a, host_a, _) in enumerate(pending):
        for b, (vm_b, _, _) in enumerate(pending):
            if a == b:
                continue
            if src[b] == host_a or _shares_domain(state, vm_a, vm_b, host_a, src[b]):
                graph.add_edge(a, b)
    return graph


def _shares_domain(state: RescheduleState, vm_a: int, vm_b: int, host_a: int, host_b: int) -> bool:
    for g in set(state.vm_groups[vm_a]) & set(state.vm_groups[vm_b]):
        dom = state.groups[g].host_domain
        if dom[host_a] >= 0 and dom[host_a] == dom[host_b]:
            return True
    return False


def _park(state: RescheduleState, vm: int, busy_hosts: set[int]) -> bool:
    """Move ``vm`` to the placement with room that hurts the fragment rate
    least, avoiding hosts other pending moves go to when possible."""
    mask = state.target_mask(vm)
    if not mask.any():
        return False
    quiet = mask.copy()
    quiet[list(busy_hosts)] = False
    hosts = np.nonzero((quiet if quiet.any() else mask).any(axis=1))[0]
    # best fit: the host with the least free CPU that takes it
    best = min(hosts, key=lambda h: int(state.numa_free[h, :, state.cpu_col].sum()))
    numa = state.best_placement(vm, int(best))
    if numa is None:
        return False
    state.move(vm, int(best), numa, check=False)
    return True


def sequence(state: RescheduleState, moves: list[Move], migration_limit: int) -> Sequenced:
    """Apply ``moves`` to ``state`` in an executable order (see the module
    docstring); ``state.actions`` receives every migration made. Moves that
    exceed ``migration_limit`` on their own are not applied (all unresolved)."""
    if len(state.actions) + len(moves) > migration_limit:
        return Sequenced(
            0, tuple(moves), f"{len(moves)} moves exceed the migration limit of {migration_limit}"
        )
    pending = _apply_ready(state, list(moves))
    parked = 0
    while pending:
        graph = wait_for_graph(state, pending)
        try:
            cycle = [a for a, _ in nx.find_cycle(graph)]
        except nx.NetworkXNoCycle:
            cycle = list(range(len(pending)))
        if len(state.actions) + len(pending) + 1 > migration_limit:
            return Sequenced(parked, tuple(pending), _report(state, pending, cycle, "limit"))
        busy = {host for _, host, _ in pending}
        if not any(_park(state, pending[a][0], busy) for a in cycle):
            return Sequenced(parked, tuple(pending), _report(state, pending, cycle, "room"))
        parked += 1
        pending = _apply_ready(state, pending)
    return Sequenced(parked, (), f"{parked} VM(s) parked to break cycles" if parked else "")


def _report(state: RescheduleState, pending: list[Move], cycle: list[int], why: str) -> str:
    vms = ", ".join(state.vm_ids[pending[a][0]] for a in cycle)
    reason = (
        "breaking it needs one more migration than the limit allows"
        if why == "limit"
        else "no host has room to park any of its VMs"
    )
    return f"moves of {vms} wait on each other in a cycle; {reason}"
