"""``optsched serve``: the gRPC service, the scheduler extender and the
metrics endpoint, with embedded defaults (loopback, SQLite job store)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

NAME = "serve"
HELP = "run the gRPC service, the scheduler extender and the metrics endpoint"
TOKEN_ENV = "OPTSCHED_TOKEN"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from optsched.api import config as c

    p.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback only)")
    p.add_argument(
        "--port", type=int, default=c.DEFAULT_GRPC_PORT, help="gRPC port (0: any free port)"
    )
    p.add_argument(
        "--http-port", type=int, default=c.DEFAULT_HTTP_PORT, help="extender and /metrics port"
    )
    p.add_argument("--no-http", action="store_true", help="no extender or metrics endpoint")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="solve threads per process (default: the usable CPUs shared among the processes)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="processes serving the gRPC port (more for many small requests; default 1)",
    )
    p.add_argument(
        "--decode-cache",
        type=int,
        default=c.DECODE_CACHE_ENTRIES,
        help="decoded nodes and items kept across requests, by their bytes (0: none)",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        help="solves admitted at once per process (0: 32 per worker thread of all processes)",
    )
    p.add_argument(
        "--default-budget",
        type=float,
        default=c.DEFAULT_BUDGET_S,
        help="seconds, when a request sets none",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=c.DEFAULT_GRACE_S,
        help="seconds in-flight calls get at shutdown",
    )
    p.add_argument(
        "--db", type=Path, default=Path("optsched-jobs.sqlite3"), help="SQLite job store"
    )
    p.add_argument("--job-workers", type=int, default=1, help="batch jobs run at once")
    p.add_argument("--tls-cert", type=Path, help="server certificate (PEM); enables TLS")
    p.add_argument("--tls-key", type=Path, help="server private key (PEM)")
    p.add_argument(
        "--tls-client-ca", type=Path, help="CA for client certificates: enables mutual TLS"
    )
    p.add_argument(
        "--token-file", type=Path, help=f"require this bearer token (or set {TOKEN_ENV})"
    )
    p.add_argument(
        "--plugin",
        action="append",
        default=[],
        help="module registering extra solvers (repeatable)",
    )
    p.add_argument(
        "--extender-snapshot",
        type=Path,
        help="kubectl get nodes,pods -A -o json: the extender's start view",
    )
    p.add_argument(
        "--kube-api", help="Kubernetes API for the extender's bind verb: 'in-cluster' or a URL"
    )
    p.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip loading the learned policy at start (the first request then pays for it)",
    )


def config_from(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from optsched.api.config import ServerConfig, TlsConfig
    from optsched.errors import ConfigError

    tls = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise ConfigError("TLS needs both --tls-cert and --tls-key")
        tls = TlsConfig(args.tls_cert, args.tls_key, args.tls_client_ca)
    elif args.tls_client_ca:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get(TOKEN_ENV)
    return ServerConfig(
        host=args.host,
        port=args.port,
        http_port=None if args.no_http else args.http_port,
        workers=args.workers,
        processes=args.processes,
        max_concurrent=args.max_concurrent,
        decode_cache=args.decode_cache,
        default_budget_s=args.default_budget,
        grace_s=args.grace,
        tls=tls,
        token=token,
        db_path=args.db,
        job_workers=args.job_workers,
        plugins=tuple(args.plugin),
        extender_snapshot=args.extender_snapshot,
        kube_api=args.kube_api,
        warm_up=not args.no_warm_up,
    )


def run(args: argparse.Namespace) -> int:
    from optsched.api.server import serve

    asyncio.run(serve(config_from(args)))
    return 0
