"""Anti-affinity groups of a rescheduling problem, as integer arrays.

A required anti-affinity term (:class:`optsched.model.AffinityTerm`) on an
item says: no item matched by the term's selector (in the term's namespaces,
or the item's own namespace when none are named) may share the term's
topology domain (host, rack, ...) with it. Items carrying the same term form
one *group* with

* ``owners``: the items that carry the term,
* ``members``: the items its selector matches,
* ``host_domain``: the topology domain of every host (``-1`` when the host has
  no such label; Kubernetes applies no constraint there).

A move of item ``v`` to a host in domain ``d`` breaks group ``g`` when ``v``
is an owner and another member is in ``d``, or ``v`` is a member and another
owner is in ``d`` (Kubernetes enforces required anti-affinity from both
sides). A VMR2L deployment set is the symmetric case owners == members: at
most one item of the set per host or per rack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optsched.model import AffinityTerm, Snapshot


@dataclass(frozen=True)
class AntiAffinityGroup:
    owners: np.ndarray  # [M] bool
    members: np.ndarray  # [M] bool
    host_domain: np.ndarray  # [H] int64, -1 = no domain
    n_domains: int
    topology_key: str

    @property
    def symmetric(self) -> bool:
        return bool(np.array_equal(self.owners, self.members))


def _term_key(term: AffinityTerm, namespace: str) -> tuple[object, ...]:
    return (term.selector, term.topology_key, term.namespaces or (namespace,))


def anti_affinity_groups(snapshot: Snapshot) -> list[AntiAffinityGroup]:
    """One group per distinct (selector, topology key, namespaces) term."""
    m = len(snapshot.items)
    owners: dict[tuple[object, ...], np.ndarray] = {}
    terms: dict[tuple[object, ...], AffinityTerm] = {}
    for i, it in enumerate(snapshot.items):
        for term in it.anti_affinity:
            key = _term_key(term, it.namespace)
            owners.setdefault(key, np.zeros(m, dtype=bool))[i] = True
            terms[key] = term
    groups: list[AntiAffinityGroup] = []
    for key, own in owners.items():
        term = terms[key]
        namespaces = key[2]
        assert isinstance(namespaces, tuple)
        members = np.array(
            [
                it.namespace in namespaces and term.selector.matches(it.labels)
                for it in snapshot.items
            ],
            dtype=bool,
        )
        labels = [nd.label(term.topology_key) for nd in snapshot.nodes]
        ids = {v: j for j, v in enumerate(sorted({v for v in labels if v is not None}))}
        domain = np.array([-1 if v is None else ids[v] for v in labels], dtype=np.int64)
        groups.append(AntiAffinityGroup(own, members, domain, len(ids), term.topology_key))
    return groups
