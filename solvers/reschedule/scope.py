"""What the state-based rescheduling solvers (greedy, pairs, exact, LNS and
the learned solver's recombination) model, and what they do not.

:class:`.state.RescheduleState` keeps a VM within its cluster, on
destinations, within capacity and anti-affinity. It does not model taints,
node selectors or disruption budgets: a plan from it could move a VM to a
host whose taint it does not tolerate or whose labels its ``node_selector``
does not match, or move more of an owner's VMs than its budget allows (the
validator rejects such a plan). :func:`unmodelled` says when a problem has
such a rule that can bind, so that these solvers answer ``INVALID_INPUT``
with the reason instead of a plan that would fail validation. The learned
policy models all three (:mod:`optsched.gnn.instance`).
"""

from __future__ import annotations

from optsched.problems.cluster import VmRescheduling
from optsched.solvers.placement.filters import (
    BLOCKING_EFFECTS,
    selector_mismatch,
    untolerated_taints,
)


def unmodelled(problem: VmRescheduling) -> str | None:
    """The first rule of ``problem`` the state does not model and that can
    bind (naming the field), or None when the state models it exactly."""
    snap = problem.snapshot
    limit = problem.migration_limit
    movable = [it for it in snap.items if it.movable]
    tainted = [
        n
        for n in snap.nodes
        if problem.is_destination(n.name) and any(t.effect in BLOCKING_EFFECTS for t in n.taints)
    ]
    for it in movable:
        nodes = snap.nodes if it.node_selector else tainted
        for n in nodes:
            if (
                n.cluster == it.cluster
                and problem.is_destination(n.name)
                and (untolerated_taints(it, n) or selector_mismatch(it, n))
            ):
                return (
                    f"items[{it.item_id}]: its tolerations or node_selector bar it from host "
                    f"{n.name} of its cluster, which this solver does not model"
                )
    counts: dict[str, int] = {}
    for it in movable:
        counts[it.owner] = counts.get(it.owner, 0) + 1
    for owner, budget in snap.disruption_budgets.items():
        if budget < min(counts.get(owner, 0), limit):
            return (
                f"disruption_budgets[{owner}]: a budget of {budget} can bind "
                f"({counts[owner]} movable VMs, migration limit {limit}), "
                "which this solver does not model"
            )
    return None
