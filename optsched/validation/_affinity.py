"""Required inter-pod affinity and anti-affinity, checked on the final state
of a plan for every item the plan put on a new node.

Semantics follow the Kubernetes ``interpodaffinity`` filter plugin:

- a term selects the *other* items whose namespace is in the term's
  ``namespaces`` (empty: the namespace of the item that owns the term) and
  whose labels match its selector; the topology domain of an item is its
  node's value for the term's ``topology_key``;
- affinity: the node must carry every term's topology key, and for every term
  some other item matching *all* the terms must share that term's domain;
  when no such item sits on any node carrying the keys, an item that matches
  its own terms may still be placed (the first pod of a group);
- anti-affinity: no other item matching a term shares its domain, in both
  directions (the newcomer's terms against existing items, and existing
  items' terms against the newcomer); a node without the key has no domain
  and so no conflict.

Items not moved by the plan are not re-checked ("IgnoredDuringExecution").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from optsched.model.cluster import Item, Node
from optsched.model.labels import AffinityTerm
from optsched.validation._fit import node_label, selector_matches
from optsched.validation.report import ValidationReport


@dataclass(frozen=True)
class FinalState:
    """Where every placed item ends up (by node name)."""

    nodes: Mapping[str, Node]
    items: Mapping[str, Item]
    node_of: Mapping[str, str]

    def domain(self, item_id: str, key: str) -> str | None:
        return node_label(self.nodes[self.node_of[item_id]], key)


def term_selects(term: AffinityTerm, owner: Item, other: Item) -> bool:
    namespaces = term.namespaces or (owner.namespace,)
    return other.namespace in namespaces and selector_matches(term.selector, other.labels)


def _affinity_ok(state: FinalState, item: Item) -> tuple[bool, str]:
    terms = item.affinity
    own = [state.domain(item.item_id, t.topology_key) for t in terms]
    missing = [t.topology_key for t, d in zip(terms, own, strict=True) if d is None]
    if missing:
        return False, f"node lacks topology key(s) {missing}"
    peers = [
        other_id
        for other_id in state.node_of
        if other_id != item.item_id
        and all(term_selects(t, item, state.items[other_id]) for t in terms)
    ]
    if all(
        any(state.domain(p, t.topology_key) == d for p in peers)
        for t, d in zip(terms, own, strict=True)
    ):
        return True, ""
    anchored = [p for p in peers if any(state.domain(p, t.topology_key) for t in terms)]
    if not anchored and all(term_selects(t, item, item) for t in terms):
        return True, ""
    return False, "no matching item shares the topology domain of every term"


def _clashes(state: FinalState, owner_id: str, other_id: str) -> list[int]:
    """Indices of ``owner``'s anti-affinity terms that ``other`` violates."""
    owner, other = state.items[owner_id], state.items[other_id]
    out = []
    for i, t in enumerate(owner.anti_affinity):
        mine = state.domain(owner_id, t.topology_key)
        if (
            mine is not None
            and term_selects(t, owner, other)
            and state.domain(other_id, t.topology_key) == mine
        ):
            out.append(i)
    return out


def _later(step_of: Mapping[str, int], a: str, b: str) -> str:
    """Of two items, the one the plan put in place last (unmoved items first)."""
    return max((a, b), key=lambda i: step_of.get(i, -1))


def check_affinity(state: FinalState, step_of: Mapping[str, int], report: ValidationReport) -> None:
    """Add ``affinity`` and ``anti_affinity`` violations for the items the plan
    put on a new node (the keys of ``step_of``: item -> step that put it on
    its final node). An anti-affinity clash is reported against the item of
    the pair placed last, at its step."""
    changed = sorted(step_of)
    for item_id in changed:
        item = state.items[item_id]
        if item.affinity:
            ok, why = _affinity_ok(state, item)
            if not ok:
                node = state.node_of[item_id]
                msg = f"{item_id} on {node}: {why}"
                report.add("affinity", msg, item_id=item_id, node=node, step=step_of[item_id])
    with_terms = [i for i in state.node_of if state.items[i].anti_affinity]
    seen: set[tuple[str, int, str]] = set()
    for item_id in changed:
        own = state.items[item_id].anti_affinity
        pairs = [(item_id, o) for o in state.node_of if o != item_id] if own else []
        pairs += [(o, item_id) for o in with_terms if o != item_id]
        for owner_id, other_id in pairs:
            for i in _clashes(state, owner_id, other_id):
                if (owner_id, i, other_id) in seen:
                    continue
                seen.add((owner_id, i, other_id))
                key = state.items[owner_id].anti_affinity[i].topology_key
                last = _later(step_of, owner_id, other_id)
                report.add(
                    "anti_affinity",
                    f"{other_id} shares {key}={state.domain(owner_id, key)} with {owner_id}, "
                    f"against {owner_id}'s anti-affinity term {i}",
                    item_id=last,
                    node=state.node_of[last],
                    step=step_of[last],
                )
