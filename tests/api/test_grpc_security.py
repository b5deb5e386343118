"""TLS, mutual TLS and the bearer token over a loopback server."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from svc_builders import place_pods_request
from svc_certs import make_pki
from svc_live import LiveServer

from optsched.api.client import Client
from optsched.api.config import TlsConfig
from optsched.api.v1 import types_pb2


def test_tls_and_mutual_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    ca = pki["ca"].cert.read_bytes()
    server = LiveServer(
        tmp_path, tls=TlsConfig(pki["server"].cert, pki["server"].key, pki["ca"].cert)
    )
    try:
        client = Client(
            f"localhost:{server.server.grpc_port}",
            ca=ca,
            cert=pki["client"].cert.read_bytes(),
            key=pki["client"].key.read_bytes(),
        )
        assert client.solve(place_pods_request()).info.status == types_pb2.SOLVE_STATUS_OPTIMAL
        client.close()
        no_cert = Client(f"localhost:{server.server.grpc_port}", ca=ca)
        with pytest.raises(grpc.RpcError) as exc:
            no_cert.solve(place_pods_request(), timeout=10)
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        no_cert.close()
        plain = grpc.insecure_channel(f"localhost:{server.server.grpc_port}")
        with pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        server.stop()


def test_server_only_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    server = LiveServer(tmp_path, tls=TlsConfig(pki["server"].cert, pki["server"].key))
    try:
        with Client(
            f"localhost:{server.server.grpc_port}", ca=pki["ca"].cert.read_bytes()
        ) as client:
            assert client.solve(place_pods_request()).info.status == types_pb2.SOLVE_STATUS_OPTIMAL
    finally:
        server.stop()


def test_bearer_token(tmp_path: Path) -> None:
    server = LiveServer(tmp_path, token="s3cret")
    try:
        with Client(server.address, token="s3cret") as good:
            assert good.solve(place_pods_request()).info.status == types_pb2.SOLVE_STATUS_OPTIMAL
        for token in (None, "wrong"):
            with Client(server.address, token=token) as bad, pytest.raises(grpc.RpcError) as exc:
                bad.solve(place_pods_request())
            assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        health = health_pb2_grpc.HealthStub(server.channel()).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING  # probes need no token
    finally:
        server.stop()
