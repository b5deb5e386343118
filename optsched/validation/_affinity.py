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

from optsched.model.cluster import Item, Node
from optsched.model.labels import AffinityTerm
from optsched.validation._fit import node_label, selector_matches
from optsched.validation.report import ValidationReport


class FinalState:
    """Where every placed item ends up (by node name), with the placed items
    indexed by topology domain so that a check looks only at the items that
    share a domain (built lazily, once per topology key)."""

    def __init__(
        self, nodes: Mapping[str, Node], items: Mapping[str, Item], node_of: Mapping[str, str]
    ) -> None:
        self.nodes, self.items, self.node_of = nodes, items, node_of
        self._by_domain: dict[str, dict[str, list[str]]] = {}

    def domain(self, item_id: str, key: str) -> str | None:
        return node_label(self.nodes[self.node_of[item_id]], key)

    def sharing(self, key: str, value: str) -> list[str]:
        """The placed items whose node has ``key`` = ``value``."""
        index = self._by_domain.get(key)
        if index is None:
            index = {}
            for item_id in self.node_of:
                d = self.domain(item_id, key)
                if d is not None:
                    index.setdefault(d, []).append(item_id)
            self._by_domain[key] = index
        return index.get(value, [])


def term_selects(term: AffinityTerm, owner: Item, other: Item) -> bool:
    namespaces = term.namespaces or (owner.namespace,)
    return other.namespace in namespaces and selector_matches(term.selector, other.labels)


def _selects_all(state: FinalState, item: Item, other_id: str) -> bool:
    return other_id != item.item_id and all(
        term_selects(t, item, state.items[other_id]) for t in item.affinity
    )


def _affinity_ok(state: FinalState, item: Item) -> tuple[bool, str]:
    terms = item.affinity
    own = [state.domain(item.item_id, t.topology_key) for t in terms]
    missing = [t.topology_key for t, d in zip(terms, own, strict=True) if d is None]
    if missing:
        return False, f"node lacks topology key(s) {missing}"
    if all(
        any(_selects_all(state, item, p) for p in state.sharing(t.topology_key, d))
        for t, d in zip(terms, own, strict=True)
        if d is not None
    ):
        return True, ""
    anchored = any(
        _selects_all(state, item, p)
        and any(state.domain(p, t.topology_key) is not None for t in terms)
        for p in state.node_of
    )
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


def _candidate_pairs(state: FinalState, item_id: str, keys: list[str]) -> list[tuple[str, str]]:
    """(term owner, other) pairs that may clash: ``item_id``'s terms against
    the items sharing its domains, and the terms of the items sharing a
    domain of any anti-affinity key against ``item_id``."""
    own = {t.topology_key for t in state.items[item_id].anti_affinity}
    pairs: set[tuple[str, str]] = set()
    for key in keys:
        d = state.domain(item_id, key)
        if d is None:
            continue
        for o in state.sharing(key, d):
            if o == item_id:
                continue
            if key in own:
                pairs.add((item_id, o))
            if any(t.topology_key == key for t in state.items[o].anti_affinity):
                pairs.add((o, item_id))
    return sorted(pairs)


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
    keys = sorted({t.topology_key for it in state.items.values() for t in it.anti_affinity})
    seen: set[tuple[str, int, str]] = set()
    for item_id in changed:
        for owner_id, other_id in _candidate_pairs(state, item_id, keys):
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
