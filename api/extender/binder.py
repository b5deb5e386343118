"""Binding a pod to a node through the Kubernetes API (the extender's bind
verb): ``POST /api/v1/namespaces/{ns}/pods/{name}/binding`` with a
``v1.Binding``, as kube-scheduler's default binder does."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from optsched.errors import ConfigError, DomainError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER = "in-cluster"
TIMEOUT_S = 10.0


class BindError(DomainError):
    """The API server refused the binding."""


@dataclass(frozen=True)
class Binder:
    base_url: str
    token: str | None = None
    ca_file: Path | None = None

    @classmethod
    def from_config(cls, spec: str) -> Binder:
        """``in-cluster`` (the pod's service account) or an API server URL."""
        if spec == IN_CLUSTER:
            host, port = (
                os.environ.get("KUBERNETES_SERVICE_HOST"),
                os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
            )
            if not host:
                raise ConfigError("--kube-api in-cluster needs KUBERNETES_SERVICE_HOST")
            token = (SERVICE_ACCOUNT / "token").read_text().strip()
            return cls(f"https://{host}:{port}", token, SERVICE_ACCOUNT / "ca.crt")
        if urllib.parse.urlparse(spec).scheme not in ("http", "https"):
            raise ConfigError(f"--kube-api must be {IN_CLUSTER!r} or an http(s) URL, got {spec!r}")
        return cls(spec.rstrip("/"), os.environ.get("OPTSCHED_KUBE_TOKEN"))

    def bind(self, namespace: str, name: str, uid: str, node: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, **({"uid": uid} if uid else {})},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        ns, pod = urllib.parse.quote(namespace, safe=""), urllib.parse.quote(name, safe="")
        req = urllib.request.Request(
            f"{self.base_url}/api/v1/namespaces/{ns}/pods/{pod}/binding",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
            method="POST",
        )
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else None
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=context) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise BindError("Node", f"API server refused the binding: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise BindError("Node", f"API server unreachable: {exc}") from None
