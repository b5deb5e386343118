"""The placement rules as predicates, shared by every placement solver.

Semantics (Kubernetes' where it has them):

- a *new arrival* on a node (a pending item placed, or an item moved there)
  needs the node ``schedulable``, every ``node_selector`` pair equal to the
  node's label, and every ``NoSchedule``/``NoExecute`` taint tolerated
  (``PreferNoSchedule`` is a preference and never blocks). An item that stays
  where it runs is not re-checked against these (as kubelet does not evict on
  a new ``NoSchedule`` taint);
- capacity: the sum of requests on a node is at most its capacity less its
  reservation, per resource; a resource a node does not list has capacity 0;
- a term of item ``p`` matches item ``q`` when ``q`` is in one of the term's
  namespaces (``p``'s own when empty) and the selector matches ``q``'s labels;
- required anti-affinity: no other item matched by one of ``p``'s terms sits
  in ``p``'s domain of the term's topology key (nodes without the key form no
  domain and never conflict);
- required affinity: ``p``'s node has every term's topology key and, for
  each term, a *peer* (another item matching all of ``p``'s affinity terms,
  as kube's interpodaffinity filter) sits in that term's domain; or (the
  first-pod rule) no peer is placed anywhere and ``p`` matches its own terms;
- a split VM whose request is odd cannot split evenly: no NUMA host takes it;
- NUMA (VM placement): a NUMA host's item sits on one NUMA node, or with
  ``numa_split`` on two, each taking ``ceil(request / 2)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from optsched.model import AffinityTerm, Item, Node, Taint

BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def untolerated_taints(item: Item, node: Node) -> list[Taint]:
    """The node's blocking taints that the item does not tolerate."""
    return [
        t
        for t in node.taints
        if t.effect in BLOCKING_EFFECTS and not any(tol.tolerates(t) for tol in item.tolerations)
    ]


def selector_mismatch(item: Item, node: Node) -> dict[str, str]:
    """The ``node_selector`` pairs the node does not satisfy."""
    return {k: v for k, v in item.node_selector.items() if node.label(k) != v}


def statically_allowed(item: Item, node: Node) -> bool:
    """Whether ``item`` may arrive on ``node`` as far as labels, taints and
    cordons go (capacity and affinity aside)."""
    return (
        node.schedulable
        and not selector_mismatch(item, node)
        and not untolerated_taints(item, node)
    )


def term_matches(term: AffinityTerm, owner: Item, other: Item) -> bool:
    namespaces = term.namespaces or (owner.namespace,)
    return other.namespace in namespaces and term.selector.matches(other.labels)


def numa_share(quantity: int, parts: int) -> int:
    """What one of ``parts`` NUMA nodes holds of an evenly split request."""
    return -(-quantity // parts) if parts > 1 else quantity


def fits(request: Mapping[str, int], free: Mapping[str, int]) -> bool:
    return all(q <= free.get(r, 0) for r, q in request.items() if q > 0)


def affinity_keys(items: list[Item]) -> set[str]:
    """Every topology key used by an affinity or anti-affinity term."""
    return {t.topology_key for it in items for t in (*it.affinity, *it.anti_affinity)}
