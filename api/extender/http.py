"""HTTP routes of the scheduler extender, with the upstream JSON shapes
(k8s.io/kube-scheduler/extender/v1): POST ``/scheduler/{filter,prioritize,
preempt,bind}``. Bad input answers HTTP 400 with the verb's result type
carrying ``Error`` (``{"Error": ...}`` for verbs whose result has none).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from optsched.api.errors import Overloaded
from optsched.api.extender import verbs
from optsched.api.extender.binder import Binder
from optsched.api.extender.view import ClusterView, pod_key
from optsched.errors import DomainError

if TYPE_CHECKING:
    from optsched.api.server import Server

log = logging.getLogger(__name__)

PREFIX = "/scheduler"
# Prioritize asks the portfolio for the pod's node; kube-scheduler's default
# extender HTTP timeout is 30 s, and a scheduling cycle should stay well under.
PRIORITIZE_BUDGET_S = 0.5


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DomainError(field, "must be a JSON object")
    return value


def _pod(args: dict[str, Any]) -> dict[str, Any]:
    pod = _obj(args.get("Pod"), "Pod")
    meta = _obj(pod.get("metadata"), "Pod.metadata")
    if not isinstance(meta.get("name"), str) or not meta["name"]:
        raise DomainError("Pod.metadata.name", "must be a non-empty string")
    if not isinstance(meta.get("namespace", "default"), str):
        raise DomainError("Pod.metadata.namespace", "must be a string")
    return pod


def _candidates(
    view: ClusterView, args: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]] | None]:
    """Candidate node names, and the full node objects when sent (not nodeCacheCapable)."""
    if args.get("Nodes") is not None:
        items = _obj(args["Nodes"], "Nodes").get("items")
        if not isinstance(items, list):
            raise DomainError("Nodes.items", "must be a list of nodes")
        for i, n in enumerate(items):
            meta = _obj(_obj(n, f"Nodes.items[{i}]").get("metadata"), f"Nodes.items[{i}].metadata")
            if not isinstance(meta.get("name"), str) or not meta["name"]:
                raise DomainError(f"Nodes.items[{i}].metadata.name", "must be a non-empty string")
        view.update_nodes(items)
        return [n["metadata"]["name"] for n in items], items
    names = args.get("NodeNames")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise DomainError("NodeNames", "must be a list of node names (or send Nodes)")
    return names, None


class Extender:
    def __init__(self, server: Server, view: ClusterView, binder: Binder | None) -> None:
        self.server, self.view, self.binder = server, view, binder

    def filter(self, args: dict[str, Any]) -> dict[str, Any]:
        pod = _pod(args)
        names, objects = _candidates(self.view, args)
        self.view.remember(pod)
        known = self.view.known(names)
        snapshot = self.view.snapshot(known, pod)
        ok, failed, unresolvable = verbs.filter_nodes(snapshot, pod_key(pod), known)
        passing = set(ok) | (set(names) - set(known))  # no view of a node: no opinion
        result: dict[str, Any] = {
            "FailedNodes": failed,
            "FailedAndUnresolvableNodes": unresolvable,
            "Error": "",
        }
        if objects is not None:
            result["Nodes"] = {"items": [n for n in objects if n["metadata"]["name"] in passing]}
            result["NodeNames"] = None
        else:
            result["Nodes"] = None
            result["NodeNames"] = [n for n in names if n in passing]
        return result

    def prioritize(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        pod = _pod(args)
        names, _ = _candidates(self.view, args)
        self.view.remember(pod)
        known = self.view.known(names)
        snapshot = self.view.snapshot(known, pod)
        portfolio = self.server.portfolio
        assert portfolio is not None  # set by Server.start
        scores = verbs.prioritize(portfolio, snapshot, pod_key(pod), known, PRIORITIZE_BUDGET_S)
        return scores + [{"Host": n, "Score": 0} for n in names if n not in known]

    def preempt(self, args: dict[str, Any]) -> dict[str, Any]:
        pod = _pod(args)
        meta_victims = args.get("NodeNameToMetaVictims")
        full_victims = args.get("NodeNameToVictims")
        source = meta_victims if meta_victims is not None else full_victims
        field = "NodeNameToMetaVictims" if meta_victims is not None else "NodeNameToVictims"
        candidates = _obj(source, field)
        out = {}
        for node, victims in candidates.items():
            v = _obj(victims, f"{field}[{node}]")
            pods = v.get("Pods") or []
            if not isinstance(pods, list):
                raise DomainError(f"{field}[{node}].Pods", "must be a list")
            uids = [
                str(
                    _obj(p, f"{field}[{node}].Pods[{i}]").get("UID")
                    or (p.get("metadata") or {}).get("uid")
                    or ""
                )
                for i, p in enumerate(pods)
            ]
            kept = self._victims(pod, node, uids)
            if kept is not None:
                out[node] = {
                    "Pods": [{"UID": u} for u in kept],
                    "NumPDBViolations": v.get("NumPDBViolations", 0),
                }
        return {"NodeNameToMetaVictims": out}

    def _victims(self, pod: dict[str, Any], node: str, uids: list[str]) -> list[str] | None:
        if not self.view.known([node]):
            return uids  # no view of the node: keep kube-scheduler's choice
        snapshot = self.view.snapshot([node], pod)
        by_key = {self.view.uids[u]: u for u in uids if u in self.view.uids}
        known = [k for k in by_key if k in snapshot.assignments]
        unknown = [u for u in uids if self.view.uids.get(u) not in known]
        kept = verbs.minimal_victims(snapshot, pod_key(pod), node, known)
        return None if kept is None else [by_key[k] for k in kept] + unknown

    def bind(self, args: dict[str, Any]) -> dict[str, Any]:
        fields = {}
        for name in ("PodName", "PodNamespace", "PodUID", "Node"):
            value = args.get(name)
            if not isinstance(value, str) or (not value and name != "PodUID"):
                raise DomainError(name, "must be a non-empty string")
            fields[name] = value
        if self.binder is None:
            return {
                "Error": "the bind verb needs a Kubernetes API: start optsched serve with --kube-api"
            }
        self.binder.bind(
            fields["PodNamespace"], fields["PodName"], fields["PodUID"], fields["Node"]
        )
        self.view.bind(fields["PodNamespace"], fields["PodName"], fields["PodUID"], fields["Node"])
        return {"Error": ""}


def _error_body(verb: str, message: str) -> Any:
    if verb == "filter":
        return {
            "Nodes": None,
            "NodeNames": None,
            "FailedNodes": {},
            "FailedAndUnresolvableNodes": {},
            "Error": message,
        }
    return {"Error": message}


def _route(
    server: Server, verb: str, fn: Callable[[dict[str, Any]], Any]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        status = 200
        try:
            try:
                args = json.loads(await request.read())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DomainError("body", f"malformed JSON: {exc}") from None
            body = await server.solving.run(fn, _obj(args, "body"))
        except DomainError as exc:
            status, body = 400, _error_body(verb, f"{exc.field}: {exc.message}")
        except Overloaded as exc:
            status, body = 503, _error_body(verb, str(exc))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("extender %s failed", verb)
            status, body = 500, _error_body(verb, "internal error (see the server log)")
        server.metrics.extender.labels(verb, str(status)).inc()
        return web.json_response(body, status=status)

    return handle


def add_routes(app: web.Application, server: Server) -> None:
    config = server.config
    view = (
        ClusterView.from_kubectl(config.extender_snapshot)
        if config.extender_snapshot
        else ClusterView()
    )
    binder = Binder.from_config(config.kube_api) if config.kube_api else None
    ext = Extender(server, view, binder)
    server.extender = ext  # type: ignore[attr-defined]
    for verb in ("filter", "prioritize", "preempt", "bind"):
        app.router.add_post(f"{PREFIX}/{verb}", _route(server, verb, getattr(ext, verb)))
