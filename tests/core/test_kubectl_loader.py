"""The kubectl loader on a realistic multi-node fixture, its input errors,
and the Kubernetes quantity parser."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vbuild import place, result

from optsched.datasets.kubectl import NODE_AFFINITY_LABEL, load_kubectl
from optsched.datasets.quantity import BINARY_SI, DECIMAL_SI, model_resource, parse_quantity
from optsched.errors import DomainError
from optsched.model import ZONE_KEY, Snapshot
from optsched.problems import PodPlacement
from optsched.validate import validate

FIXTURE = Path(__file__).parent.parent / "fixtures" / "kubectl_cluster.json"
WEB_PENDING = "shop/web-6b7c8d9f5-m2n7p"
API_PENDING = "shop/api-84d5f6c7b8-k1v9w"
LLM = "ml/infer-llm-0"


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return load_kubectl(FIXTURE)


def test_nodes(snap: Snapshot) -> None:
    assert [n.name for n in snap.nodes] == ["cp-1", "worker-a1", "worker-a2", "worker-b1", "gpu-b2"]
    cp = snap.node("cp-1")
    assert cp.capacity == {
        "cpu_millis": 2000,
        "memory_mib": 7715,  # 7901160Ki / 1024, rounded down
        "pods": 110,
        "ephemeral_storage_mib": 44912,  # 47093746742 bytes, rounded down
        "hugepages_2mi_mib": 0,
    }
    assert [t.key for t in cp.taints] == ["node-role.kubernetes.io/control-plane"]
    gpu = snap.node("gpu-b2")
    assert gpu.capacity["gpu_count"] == 8
    assert gpu.capacity["memory_mib"] == 1049041  # 1.1e12 bytes
    assert gpu.capacity["ephemeral_storage_mib"] == 2**20  # 1Ti
    assert snap.node("worker-b1").capacity["memory_mib"] == 31 * 1024
    assert snap.node("worker-a1").capacity["cpu_millis"] == 3920
    assert [n.name for n in snap.nodes if not n.schedulable] == ["worker-a2"]
    assert snap.node("worker-a1").labels[ZONE_KEY] == "eu-west-1a"


def test_pods_and_requests(snap: Snapshot) -> None:
    assert len(snap.items) == 22  # 24 pods, less one Succeeded and one Failed
    web = snap.item(WEB_PENDING)  # init container 1 CPU beats 500m + 50m
    assert web.requests == {"cpu_millis": 1000, "memory_mib": 576, "pods": 1}
    api = snap.item(API_PENDING)  # sidecar 100m/128Mi counts with the main container
    assert api.requests == {"cpu_millis": 850, "memory_mib": 1152, "pods": 1}
    kata = snap.item("sandbox/kata-demo-5f6g7")  # pod overhead added
    assert kata.requests == {"cpu_millis": 500, "memory_mib": 416, "pods": 1}
    assert snap.item("kube-system/kube-proxy-4xk2p").requests == {"pods": 1}
    assert snap.item("ml/train-resnet-x7k2m").requests["gpu_count"] == 2
    assert web.priority == 1000 and web.owner == "ReplicaSet/shop/web-6b7c8d9f5"
    assert web.labels["app"] == "web" and web.namespace == "shop"


def test_assignments_and_pending(snap: Snapshot) -> None:
    pending = {it.item_id for it in snap.pending}
    assert pending == {
        WEB_PENDING,
        API_PENDING,
        LLM,
        "batch/report-28571040-abcde",
        "batch/report-28571040-fghij",
    }
    assert snap.assignments["shop/cache-0"].node == "worker-b1"


@pytest.mark.parametrize(
    ("item_id", "movable", "evictable"),
    [
        ("kube-system/kube-apiserver-cp-1", False, False),  # mirror pod
        ("kube-system/kube-proxy-9hq7d", False, False),  # DaemonSet
        ("kube-system/coredns-5d78c9869d-hx2kq", True, True),  # protected by the problem instead
        ("default/debug-shell", False, True),  # bare pod
        ("shop/web-6b7c8d9f5-8fj2k", True, True),
        ("shop/cache-0", True, True),
    ],
)
def test_mobility(snap: Snapshot, item_id: str, movable: bool, evictable: bool) -> None:
    it = snap.item(item_id)
    assert (it.movable, it.evictable) == (movable, evictable)


def test_selectors_tolerations_and_affinity(snap: Snapshot) -> None:
    web = snap.item(WEB_PENDING)
    assert [(t.selector.match_labels, t.topology_key) for t in web.anti_affinity] == [
        ({"app": "web"}, "kubernetes.io/hostname")
    ]
    assert snap.item("kube-system/coredns-5d78c9869d-hx2kq").anti_affinity == ()  # preferred only
    api = snap.item(API_PENDING)
    assert api.affinity[0].topology_key == ZONE_KEY
    assert api.affinity[0].selector.match_expressions[0].values == ("cache",)
    assert snap.item("batch/report-28571040-abcde").node_selector == {ZONE_KEY: "eu-west-1b"}
    assert snap.item("batch/report-28571040-fghij").node_selector == {"disktype": "ssd"}
    (key,) = snap.item(LLM).node_selector
    assert key.startswith(NODE_AFFINITY_LABEL)
    assert [n.name for n in snap.nodes if n.labels.get(key) == "true"] == ["gpu-b2"]
    tol = snap.item("ml/train-resnet-x7k2m").tolerations
    assert any(t.key == "nvidia.com/gpu" and t.value == "present" for t in tol)


@pytest.mark.parametrize(
    ("item_id", "node", "codes"),
    [
        (WEB_PENDING, "worker-a1", {"anti_affinity"}),
        (WEB_PENDING, "worker-a2", {"unschedulable", "taint"}),
        (WEB_PENDING, "gpu-b2", {"taint"}),
        (WEB_PENDING, "cp-1", {"taint"}),
        (API_PENDING, "worker-b1", set()),
        (API_PENDING, "worker-a1", {"affinity"}),
        (LLM, "worker-b1", {"node_selector", "capacity"}),
        (LLM, "gpu-b2", set()),
        ("batch/report-28571040-fghij", "worker-b1", {"node_selector"}),
        ("batch/report-28571040-fghij", "worker-a1", set()),
    ],
)
def test_loaded_snapshot_validates(
    snap: Snapshot, item_id: str, node: str, codes: set[str]
) -> None:
    others = tuple(it.item_id for it in snap.pending if it.item_id != item_id)
    report = validate(PodPlacement(snap), result(place(item_id, node), unplaced=others))
    assert report.codes() == codes, report.summary()


def test_protected_kube_system_move_is_refused(snap: Snapshot) -> None:
    from vbuild import move

    pods = [it.item_id for it in snap.pending]
    report = validate(
        PodPlacement(snap),
        result(
            move("kube-system/coredns-5d78c9869d-hx2kq", "worker-a1", "worker-b1"),
            unplaced=tuple(pods),
        ),
    )
    assert report.codes() == {"protected"}


def _doc() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _pod(doc: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    return next((i, o) for i, o in enumerate(doc["items"]) if o["metadata"]["name"] == name)


def _set(doc: dict[str, Any], name: str, path: str, value: Any) -> int:
    """Set ``value`` at the dotted ``path`` (digits index lists) of the
    object called ``name``; return the object's index in ``items``."""
    i, top = _pod(doc, name)
    obj: Any = top
    *head, last = path.split(".")
    for p in head:
        obj = obj[int(p)] if p.isdigit() else obj.setdefault(p, {})
    obj[int(last) if last.isdigit() else last] = value
    return i


AFF = "spec.affinity"
BAD_INPUTS = [
    (
        "cache-0",
        "spec.containers.0.resources.requests.cpu",
        "1 core",
        "spec.containers[0].resources.requests.cpu",
    ),
    (
        "cache-0",
        "spec.containers.0.resources.requests.memory",
        "-1Gi",
        "spec.containers[0].resources.requests.memory",
    ),
    ("cache-0", "spec.overhead", {"cpu": "lots"}, "spec.overhead.cpu"),
    ("cache-0", "spec.nodeName", "no-such-node", "spec.nodeName"),
    ("cache-0", "spec.priority", "high", "spec.priority"),
    (
        "cache-0",
        "spec.tolerations",
        [{"key": "a", "operator": "Like"}],
        "spec.tolerations[0].operator",
    ),
    (
        "cache-0",
        AFF,
        {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {},
                        "topologyKey": "x",
                        "namespaceSelector": {"matchLabels": {"team": "a"}},
                    }
                ]
            }
        },
        "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaceSelector",
    ),
    (
        "cache-0",
        AFF,
        {
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {
                            "matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]
                        },
                        "topologyKey": "x",
                    }
                ]
            }
        },
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchExpressions[0].operator",
    ),
    (
        "cache-0",
        AFF,
        {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "x"}]}},
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector",
    ),
    (
        "cache-0",
        AFF,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Near"}]}]
                }
            }
        },
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
    ),
    (
        "cache-0",
        AFF,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.uid", "operator": "In", "values": ["x"]}
                            ]
                        }
                    ]
                }
            }
        },
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key",
    ),
    (
        "report-28571040-fghij",
        AFF,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "disktype", "operator": "In", "values": ["hdd"]}
                            ]
                        }
                    ]
                }
            }
        },
        "spec.affinity.nodeAffinity",
    ),
    ("worker-a1", "status.allocatable.cpu", "4 cores", "status.allocatable.cpu"),
    ("gpu-b2", "spec.taints.0.effect", "Sometimes", "spec.taints[0].effect"),
]


@pytest.mark.parametrize(
    ("name", "path", "value", "field"), BAD_INPUTS, ids=[b[3] for b in BAD_INPUTS]
)
def test_bad_input_names_the_field(name: str, path: str, value: Any, field: str) -> None:
    doc = _doc()
    i = _set(doc, name, path, value)
    with pytest.raises(DomainError) as exc:
        load_kubectl(doc)
    assert exc.value.field == f"items[{i}].{field}"


def test_documents_that_are_not_lists(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match="items"):
        load_kubectl({"kind": "List"})
    with pytest.raises(DomainError) as exc:
        load_kubectl(tmp_path / "missing.json")
    assert exc.value.field == "path"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DomainError, match="not JSON"):
        load_kubectl(bad)


def test_node_affinity_forms() -> None:
    doc = _doc()
    terms = [
        {
            "matchExpressions": [
                {
                    "key": "node.kubernetes.io/instance-type",
                    "operator": "NotIn",
                    "values": ["m5.xlarge"],
                }
            ]
        },
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["cp-1"]}]},
    ]
    _set(
        doc,
        "report-28571040-abcde",
        AFF,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        },
    )
    gt = [{"matchExpressions": [{"key": "gpu-count", "operator": "Gt", "values": ["4"]}]}]
    _set(doc, "gpu-b2", "metadata.labels.gpu-count", "8")
    _set(doc, "worker-b1", "metadata.labels.gpu-count", "2")
    _set(doc, "report-28571040-fghij", "spec.nodeSelector", {})
    _set(
        doc,
        "report-28571040-fghij",
        AFF,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": gt}
            }
        },
    )
    snap = load_kubectl(doc)

    def admitted(item_id: str) -> list[str]:
        sel = snap.item(item_id).node_selector
        return [n.name for n in snap.nodes if all(n.labels.get(k) == v for k, v in sel.items())]

    assert admitted("batch/report-28571040-abcde") == ["cp-1", "worker-b1", "gpu-b2"]
    assert admitted("batch/report-28571040-fghij") == ["gpu-b2"]


def test_namespace_selector_all_and_label_keys() -> None:
    doc = copy.deepcopy(_doc())
    term = {
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": ZONE_KEY,
        "namespaceSelector": {},
        "matchLabelKeys": ["pod-template-hash"],
    }
    _set(
        doc,
        "web-6b7c8d9f5-m2n7p",
        AFF,
        {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}},
    )
    snap = load_kubectl(doc)
    (t,) = snap.item(WEB_PENDING).anti_affinity
    assert set(t.namespaces) == {"kube-system", "shop", "ml", "batch", "default", "sandbox"}
    assert [(r.key, r.operator, r.values) for r in t.selector.match_expressions] == [
        ("pod-template-hash", "In", ("6b7c8d9f5",))
    ]


QUANTITIES = [
    ("500m", Fraction(1, 2)),
    ("1Gi", Fraction(2**30)),
    ("2.5G", Fraction(25 * 10**8)),
    ("1e3", Fraction(1000)),
    ("128974848", Fraction(128974848)),
    ("129e6", Fraction(129 * 10**6)),
    ("123Mi", Fraction(123 * 2**20)),
    ("1.5Ki", Fraction(1536)),
    (".5", Fraction(1, 2)),
    ("100n", Fraction(1, 10**7)),
    ("1E-3", Fraction(1, 1000)),
    (4, Fraction(4)),
    (0.25, Fraction(1, 4)),
]


@pytest.mark.parametrize(("text", "value"), QUANTITIES)
def test_quantities(text: str, value: Fraction) -> None:
    assert parse_quantity(text, "f") == value


@pytest.mark.parametrize(
    "bad", ["", "abc", "1Zi", "1 Gi", "1e", "-1", "1e999", "0x10", None, True, [], "1.2.3"]
)
def test_bad_quantities_name_the_field(bad: object) -> None:
    with pytest.raises(DomainError) as exc:
        parse_quantity(bad, "spec.x")
    assert exc.value.field == "spec.x"


@given(st.integers(0, 10**12), st.sampled_from(sorted(BINARY_SI.keys() | DECIMAL_SI.keys())))
def test_quantity_suffixes(n: int, suffix: str) -> None:
    mult = BINARY_SI.get(suffix) or DECIMAL_SI[suffix]
    assert parse_quantity(f"{n}{suffix}", "f") == n * mult


@given(st.integers(0, 10**9), st.integers(0, 999))
def test_decimal_fractions_are_exact(whole: int, thousandths: int) -> None:
    assert parse_quantity(f"{whole}.{thousandths:03d}", "f") == whole + Fraction(thousandths, 1000)


def test_resource_names() -> None:
    assert model_resource("cpu")[0] == "cpu_millis"
    assert model_resource("example.com/fpga") == ("example_com_fpga", 1)
    assert model_resource("hugepages-1Gi") == ("hugepages_1gi_mib", Fraction(1, 2**20))
