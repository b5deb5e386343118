"""PodDisruptionBudgets in ``kubectl get nodes,pods,pdb -A -o json`` output:
selection, the disruptions allowed, overlapping budgets, bad input, and the
validator holding a plan to the loaded budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vbuild import evict, result

from optsched.datasets.k8s_pdb import OWNER_PREFIX, Pdb, allowed_disruptions
from optsched.datasets.kubectl import load_kubectl
from optsched.errors import DomainError
from optsched.problems import PodPlacement
from optsched.validate import validate

FIXTURE = Path(__file__).parent.parent / "fixtures" / "kubectl_cluster.json"
WEB = ("shop/web-6b7c8d9f5-8fj2k", "shop/web-6b7c8d9f5-q9x4z", "shop/web-6b7c8d9f5-m2n7p")
WEB_OWNER = OWNER_PREFIX + "shop/web"


def pdb(name: str, spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


def load_with(*pdbs: dict[str, Any]) -> Any:
    doc = json.loads(FIXTURE.read_text())
    doc["items"].extend(pdbs)
    return load_kubectl(doc)


WEB_SELECTOR = {"matchLabels": {"app": "web"}}


def test_selected_pods_form_the_budgets_group() -> None:
    snap = load_with(pdb("web", {"selector": WEB_SELECTOR, "maxUnavailable": 2}))
    owners = {it.item_id: it.owner for it in snap.items}
    assert all(owners[w] == WEB_OWNER for w in WEB)
    assert owners["shop/cache-0"] != WEB_OWNER
    assert snap.disruption_budgets == {WEB_OWNER: 1}


@pytest.mark.parametrize(
    ("spec", "status", "allowed"),
    [
        # 3 selected web pods, 2 of them Running.
        ({"maxUnavailable": 1}, None, 0),  # desired 2 healthy, 2 running
        ({"maxUnavailable": 2}, None, 1),
        ({"maxUnavailable": "50%"}, None, 1),  # ceil(1.5) = 2 unavailable, desired 1
        ({"minAvailable": 1}, None, 1),
        ({"minAvailable": "50%"}, None, 0),  # ceil(1.5) = 2 desired
        ({}, None, 0),
        ({"minAvailable": 1}, {"disruptionsAllowed": 0}, 0),  # the controller's figure wins
        ({"maxUnavailable": 0}, {"disruptionsAllowed": 2}, 2),
    ],
)
def test_disruptions_allowed(
    spec: dict[str, Any], status: dict[str, Any] | None, allowed: int
) -> None:
    snap = load_with(pdb("web", {"selector": WEB_SELECTOR, **spec}, status))
    assert snap.disruption_budgets[WEB_OWNER] == allowed


def test_empty_selector_selects_the_namespace_and_missing_selects_none() -> None:
    snap = load_with(pdb("all", {"selector": {}, "maxUnavailable": 1}), pdb("none", {}))
    shop = [it for it in snap.items if it.namespace == "shop"]
    assert shop and all(it.owner == OWNER_PREFIX + "shop/all" for it in shop)
    assert all(it.owner != OWNER_PREFIX + "shop/all" for it in snap.items if it.namespace != "shop")
    assert snap.disruption_budgets[OWNER_PREFIX + "shop/none"] == 0


def test_a_pod_under_two_budgets_cannot_be_disrupted() -> None:
    snap = load_with(
        pdb("web", {"selector": WEB_SELECTOR, "maxUnavailable": 1}),
        pdb("all", {"selector": {}, "maxUnavailable": 5}),
    )
    by_id = {it.item_id: it for it in snap.items}
    assert not by_id[WEB[0]].movable and not by_id[WEB[0]].evictable
    assert by_id["shop/cache-0"].owner == OWNER_PREFIX + "shop/all"


def test_the_validator_holds_a_plan_to_the_loaded_budget() -> None:
    snap = load_with(pdb("web", {"selector": WEB_SELECTOR, "maxUnavailable": 2}))
    pending = tuple(it.item_id for it in snap.pending)
    one = validate(PodPlacement(snap), result(evict(WEB[0], "worker-a1"), unplaced=pending))
    assert "disruption_budget" not in one.codes(), one.summary()
    both = validate(
        PodPlacement(snap),
        result(evict(WEB[0], "worker-a1"), evict(WEB[1], "worker-b1"), unplaced=pending),
    )
    assert "disruption_budget" in both.codes()


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (pdb("x", {"selector": WEB_SELECTOR, "maxUnavailable": -1}), "spec.maxUnavailable"),
        (pdb("x", {"selector": WEB_SELECTOR, "minAvailable": "half"}), "spec.minAvailable"),
        (pdb("x", {"selector": WEB_SELECTOR, "minAvailable": True}), "spec.minAvailable"),
        (pdb("x", {"minAvailable": 1, "maxUnavailable": 1}), "spec"),
        (pdb("x", {}, {"disruptionsAllowed": -3}), "status.disruptionsAllowed"),
        (pdb("x", {"selector": {"matchLabels": {"a": 1}}}), "spec.selector.matchLabels"),
        ({"kind": "PodDisruptionBudget", "metadata": {}}, "metadata.name"),
    ],
)
def test_bad_budgets_name_the_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as exc:
        load_with(obj)
    assert field in exc.value.field


def test_duplicate_budget_is_refused() -> None:
    with pytest.raises(DomainError, match="duplicate"):
        load_with(pdb("web", {}), pdb("web", {}))


def test_allowed_never_negative() -> None:
    p = Pdb("o", "ns", None, None, 5, None, "items[0]")
    assert allowed_disruptions(p, healthy=2, expected=3) == 0
