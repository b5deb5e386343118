"""The scheduler extender over HTTP with the upstream JSON shapes."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from svc_k8s import node, pod
from svc_live import LiveServer

TAINT = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def post(server: LiveServer, verb: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"{server.http}/scheduler/{verb}", data=data, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    doc = {
        "kind": "List",
        "items": [
            node("full", cpu="2"),
            pod("low1", cpu="900m", node_name="full", priority=1),
            pod("low2", cpu="900m", node_name="full", priority=5),
        ],
    }
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(doc))
    server = LiveServer(tmp_path, extender_snapshot=path)
    yield server
    server.stop()


def test_filter_with_full_nodes(cluster: LiveServer) -> None:
    nodes = [node("big"), node("small", cpu="1"), node("tainted", taints=TAINT)]
    status, result = post(
        cluster, "filter", {"Pod": pod("p"), "Nodes": {"items": nodes}, "NodeNames": None}
    )
    assert status == 200 and result["Error"] == ""
    assert [n["metadata"]["name"] for n in result["Nodes"]["items"]] == ["big"]
    assert result["NodeNames"] is None
    assert set(result["FailedNodes"]) == {"small"}
    assert set(result["FailedAndUnresolvableNodes"]) == {"tainted"}


def test_filter_node_cache_capable(cluster: LiveServer) -> None:
    status, result = post(
        cluster, "filter", {"Pod": pod("p", cpu="500m"), "NodeNames": ["full", "unknown"]}
    )
    assert status == 200
    assert result["NodeNames"] == ["unknown"]  # full has 200m free; no view of unknown: no opinion
    assert "full" in result["FailedNodes"]


def test_prioritize_scores_the_solvers_choice_highest(cluster: LiveServer) -> None:
    nodes = [node("a"), node("b", cpu="2"), node("c", cpu="1")]
    status, scores = post(cluster, "prioritize", {"Pod": pod("p"), "Nodes": {"items": nodes}})
    assert status == 200
    by_host = {s["Host"]: s["Score"] for s in scores}
    assert set(by_host) == {"a", "b", "c"} and all(0 <= s <= 10 for s in by_host.values())
    assert max(by_host.values()) == 10
    assert by_host["c"] == 0  # does not fit


def test_preempt_keeps_the_fewest_victims(cluster: LiveServer) -> None:
    args = {
        "Pod": pod("urgent", cpu="800m", priority=100),
        "NodeNameToMetaVictims": {
            "full": {"Pods": [{"UID": "uid-low1"}, {"UID": "uid-low2"}], "NumPDBViolations": 0}
        },
    }
    status, result = post(cluster, "preempt", args)
    assert status == 200
    assert result["NodeNameToMetaVictims"]["full"]["Pods"] == [{"UID": "uid-low1"}]
    args["Pod"] = pod("huge", cpu="3", priority=100)
    assert post(cluster, "preempt", args)[1] == {"NodeNameToMetaVictims": {}}


def test_bind_without_api_reports_an_error(cluster: LiveServer) -> None:
    status, result = post(
        cluster, "bind", {"PodName": "p", "PodNamespace": "default", "PodUID": "u", "Node": "full"}
    )
    assert status == 200 and "kube-api" in result["Error"]


def test_bind_posts_a_binding_and_updates_the_view(tmp_path: Path) -> None:
    seen: list[Any] = []

    async def binding(request: web.Request) -> web.Response:
        seen.append((request.match_info["ns"], request.match_info["name"], await request.json()))
        return web.json_response({"kind": "Status", "status": "Success"}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{ns}/pods/{name}/binding", binding)
    server = LiveServer(tmp_path, kube_api="http://127.0.0.1:1")  # pointed at the fake API below
    try:
        runner = web.AppRunner(app)
        server.call(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        server.call(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        from optsched.api.extender.binder import Binder

        server.server.extender.binder = Binder(f"http://127.0.0.1:{port}")  # type: ignore[attr-defined]
        post(server, "filter", {"Pod": pod("p"), "Nodes": {"items": [node("n1")]}})
        status, result = post(
            server,
            "bind",
            {"PodName": "p", "PodNamespace": "default", "PodUID": "uid-p", "Node": "n1"},
        )
        assert (status, result) == (200, {"Error": ""})
        assert seen == [
            (
                "default",
                "p",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": "p", "namespace": "default", "uid": "uid-p"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
                },
            )
        ]
        # the view now holds p (1.5 CPU) on n1 (4 CPU): a 3-CPU pod no longer fits
        status, result = post(server, "filter", {"Pod": pod("q", cpu="3"), "NodeNames": ["n1"]})
        assert result["NodeNames"] == [] and "n1" in result["FailedNodes"]
        server.call(runner.cleanup())
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("filter", b"{not json", "body"),
        ("filter", {"Pod": None, "NodeNames": []}, "Pod"),
        ("filter", {"Pod": pod("p"), "NodeNames": "n1"}, "NodeNames"),
        ("prioritize", {"Pod": {"metadata": {}}, "NodeNames": []}, "Pod.metadata.name"),
        ("preempt", {"Pod": pod("p"), "NodeNameToMetaVictims": []}, "NodeNameToMetaVictims"),
        ("bind", {"PodName": "", "PodNamespace": "d", "PodUID": "u", "Node": "n"}, "PodName"),
    ],
)
def test_bad_requests_are_400_with_error(
    cluster: LiveServer, verb: str, body: Any, field: str
) -> None:
    status, result = post(cluster, verb, body)
    assert status == 400
    assert result["Error"].startswith(field)
    if verb == "filter":
        assert set(result) == {
            "Nodes",
            "NodeNames",
            "FailedNodes",
            "FailedAndUnresolvableNodes",
            "Error",
        }
