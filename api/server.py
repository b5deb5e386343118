"""The optsched server: gRPC (grpc.aio) with health checking and reflection,
plus one HTTP endpoint (aiohttp) for the scheduler extender and Prometheus
metrics, all on one event loop in one process; with ``processes`` > 1,
replica processes serve the gRPC port beside it (:mod:`optsched.api.replicas`).

aiohttp rather than the stdlib HTTP server in a thread: the extender's verbs
run solves, and on the same event loop they share the gRPC side's admission
cap and worker pool without cross-thread hand-offs; aiohttp also gives
keep-alive (kube-scheduler reuses connections) and a request size limit.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from optsched.api import decode_cache
from optsched.api.config import ServerConfig
from optsched.api.handlers import JobHandlers, generic_handlers, service_names
from optsched.api.interceptors import ErrorInterceptor, TokenInterceptor
from optsched.api.jobs.forward import JobsForwarder
from optsched.api.jobs.runner import JobRunner
from optsched.api.jobs.service import JobsService
from optsched.api.jobs.store import JobStore
from optsched.api.metrics import Metrics, merged_exposition
from optsched.api.replicas import Replicas
from optsched.api.solving import SolveService
from optsched.heap import settle_heap
from optsched.portfolio import Portfolio

log = logging.getLogger(__name__)


def load_plugins(modules: tuple[str, ...]) -> None:
    for module in modules:
        importlib.import_module(module)


@dataclass
class Server:
    config: ServerConfig
    portfolio: Portfolio | None = None
    metrics: Metrics = field(default_factory=Metrics)
    grpc_port: int = 0
    http_port: int | None = None
    # In a replica process: the primary's private address, where the Jobs
    # RPCs go (see optsched.api.replicas).
    primary: str | None = None
    replicas: Replicas | None = None

    async def start(self) -> None:
        config = self.config
        load_plugins(config.plugins)
        self.portfolio = self.portfolio or Portfolio()
        if config.warm_up:
            warmed = await asyncio.get_running_loop().run_in_executor(None, self.portfolio.warm_up)
            log.info("warmed up: %s", ", ".join(warmed) or "nothing to load")
        self.metrics.watch_decode_cache(decode_cache.configure(config.decode_cache))
        self.solving = SolveService(config, self.portfolio, self.metrics)
        jobs: JobHandlers
        if self.primary is None:
            self.store = JobStore(config.db_path)
            self.runner = JobRunner(self.store, config, self.metrics)
            jobs = JobsService(self.store, self.runner, self.solving)
        else:
            jobs = self.forwarder = JobsForwarder(self.primary)
        # errors become codes where the methods are looked up (ErrorInterceptor);
        # grpc.aio's interceptor chain runs only to check a configured token
        interceptors = [TokenInterceptor(config.token)] if config.token else []
        options = [
            ("grpc.max_receive_message_length", config.limits.max_request_bytes),
            ("grpc.max_send_message_length", config.limits.max_request_bytes),
        ]
        if config.processes > 1:
            options.append(("grpc.so_reuseport", 1))  # processes share the port
        self.grpc = grpc.aio.server(interceptors=interceptors, options=options)
        self.grpc.add_generic_rpc_handlers(
            [ErrorInterceptor(generic_handlers(self.solving, jobs), self.metrics)]
        )
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        names = [*service_names(), health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, self.grpc)
        self.grpc_port = self._bind(f"{config.host}:{config.port}")
        if config.processes > 1 and self.primary is None:
            self.rundir = Path(tempfile.mkdtemp(prefix="optsched-"))
            self.replicas = Replicas(config, self.grpc_port, self.rundir)
            self.grpc.add_insecure_port(self.replicas.primary_address)
        await self.grpc.start()
        for name in ["", *service_names()]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.primary is None:
            self.runner.start()
        if self.replicas is not None:
            await self.replicas.start()
        await self._start_http()
        log.info(
            "optsched listening: grpc %s:%d, http %s", config.host, self.grpc_port, self.http_port
        )

    def _bind(self, address: str) -> int:
        tls = self.config.tls
        if tls is None:
            return self.grpc.add_insecure_port(address)
        cert, key, client_ca = tls.read()
        creds = grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )
        return self.grpc.add_secure_port(address, creds)

    async def _start_http(self) -> None:
        if self.config.http_port is None:
            return
        from optsched.api.extender.http import add_routes

        app = web.Application(client_max_size=self.config.limits.max_request_bytes)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        add_routes(app, self)
        self.http = web.AppRunner(app, access_log=None)
        await self.http.setup()
        site = web.TCPSite(self.http, self.config.host, self.config.http_port)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _metrics(self, request: web.Request) -> web.Response:
        self.metrics.record_jobs(self.store.counts())
        body = self.metrics.exposition()
        if self.replicas is not None:
            body = merged_exposition([("0", body), *await self.replicas.expositions()])
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def stop(self, grace_s: float | None = None) -> None:
        """Refuse new calls, give in-flight ones ``grace_s`` to finish, then
        cancel the rest; running jobs are left for the next start to re-run."""
        grace = self.config.grace_s if grace_s is None else grace_s
        await self.health.enter_graceful_shutdown()
        if self.replicas is not None:
            await asyncio.gather(self.grpc.stop(grace), self.replicas.stop(grace))
            shutil.rmtree(self.rundir, ignore_errors=True)
        else:
            await self.grpc.stop(grace)
        if getattr(self, "http", None) is not None:
            await self.http.cleanup()
        if self.primary is None:
            await self.runner.stop()
            self.store.close()
        else:
            await self.forwarder.close()
        self.solving.shutdown()


async def serve(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    server = Server(config)
    await server.start()
    settle_heap()
    print(
        f"optsched serving grpc={config.host}:{server.grpc_port} http={server.http_port}"
        f" processes={config.processes}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.warning("shutting down (grace period %.1f s)", config.grace_s)
    await server.stop()
