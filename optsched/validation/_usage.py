"""Resource accounting for the validator, written from the model's raw fields.

A *unit* is a host (``(node, None)``) or one of its NUMA nodes
(``(node, k)``). Its limit is its capacity less its ``reserved`` part. An
item counts its whole request on its host; on NUMA nodes a split item
(``numa_split`` on two NUMA nodes) counts half of each quantity on each
(rounded up, so an odd request, itself reported as a violation, is never
under-counted), and any other item counts its whole request on each NUMA node
it lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from optsched.model.cluster import Assignment, Item, Node, Snapshot

Unit = tuple[str, int | None]

SPLIT_NUMA_COUNT = 2  # a split VM spans exactly two NUMA nodes (VMR2L "double-NUMA" VMs)


def numa_share(item: Item, numa: tuple[int, ...]) -> dict[str, int]:
    """What ``item`` uses on each NUMA node of ``numa``."""
    # the raw quantities: iterating the Resources mapping itself goes through
    # the Mapping ABC, several times slower, for the same pairs
    requests = item.requests.quantities
    if item.numa_split and len(numa) == SPLIT_NUMA_COUNT:
        return {r: -(-q // SPLIT_NUMA_COUNT) for r, q in requests.items()}
    return dict(requests.items())


class Usage:
    """Resources used per unit; mutated one action at a time."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.nodes: dict[str, Node] = {n.name: n for n in snapshot.nodes}
        self.used: dict[Unit, dict[str, int]] = {}
        items = {it.item_id: it for it in snapshot.items}
        for item_id, where in snapshot.assignments.items():
            self.add(items[item_id], where, +1)

    def _bump(self, unit: Unit, amounts: Mapping[str, int], sign: int) -> None:
        used = self.used.setdefault(unit, {})
        for r, q in amounts.items():
            used[r] = used.get(r, 0) + sign * q

    def add(self, item: Item, where: Assignment, sign: int) -> None:
        """Count (``sign`` +1) or uncount (-1) ``item`` at ``where``."""
        self._bump((where.node, None), item.requests.quantities, sign)
        if where.numa:
            share = numa_share(item, where.numa)
            for k in where.numa:
                self._bump((where.node, k), share, sign)

    def limit(self, unit: Unit, resource: str) -> int:
        node = self.nodes[unit[0]]
        if unit[1] is None:
            return node.capacity[resource] - node.reserved[resource]
        numa = node.numa[unit[1]]
        return numa.capacity[resource] - numa.reserved[resource]

    def used_of(self, unit: Unit, resource: str) -> int:
        return self.used.get(unit, {}).get(resource, 0)

    def free(self, unit: Unit, resource: str) -> int:
        return self.limit(unit, resource) - self.used_of(unit, resource)

    def over(self, unit: Unit) -> list[tuple[str, int, int]]:
        """``(resource, used, limit)`` for every resource over its limit."""
        out = []
        for r, q in sorted(self.used.get(unit, {}).items()):
            lim = self.limit(unit, r)
            if q > 0 and q > lim:
                out.append((r, q, lim))
        return out

    def units_of(self, where: Assignment) -> list[Unit]:
        return [(where.node, None)] + [(where.node, k) for k in where.numa]
