"""Replica processes: more event loops serving the same gRPC port.

A small heuristic request spends its time in Python (conversion, solve,
validation) on the event loop, holding the GIL, so one process answers at
most one core's worth of them; only CP-SAT, which releases the GIL, uses the
other cores. With ``processes`` > 1 the primary process starts
``processes - 1`` replicas that bind the same host and port (SO_REUSEPORT),
and the kernel spreads incoming connections over the processes.

What stays in the primary:
- the job store and runner: a replica passes the Jobs RPCs on to the primary
  over a private Unix socket (:mod:`optsched.api.jobs.forward`), so jobs are
  queued, cancelled and recovered in one place;
- the HTTP endpoint (the extender keeps one view of the cluster); its
  ``/metrics`` merges every process's metrics under a ``process`` label.

Each replica has its own worker threads, admission cap, budget sharing and
guard-rail measurements: a learned solver's guard-rail in a replica judges
it on the requests that replica answers.

Lifecycle: the primary starts the replicas once its port is bound and waits
until each serves; it starts again a replica that dies; at shutdown it sends
SIGTERM, and each replica drains its calls within the same grace period. A
replica whose primary is gone (killed) stops by itself, so no orphan keeps
taking connections on the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import grpc

from optsched.api.config import ServerConfig
from optsched.errors import ConfigError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 180.0
# How often the primary looks for dead replicas, and a replica for its primary.
WATCH_S = 1.0
# Beyond the grace period, how long a replica gets to exit after SIGTERM.
EXIT_SLACK_S = 5.0
METRICS_SERVICE = "optsched.internal.Replica"
METRICS_METHOD = f"/{METRICS_SERVICE}/Metrics"
SCRAPE_TIMEOUT_S = 2.0


@dataclass
class Replica:
    index: int
    process: BaseProcess
    socket: Path


class Replicas:
    """The primary's side: starts, watches, scrapes and stops the replicas."""

    def __init__(self, config: ServerConfig, port: int, rundir: Path) -> None:
        self.config, self.port, self.rundir = config, port, rundir
        # where the primary listens for the replicas' forwarded Jobs calls
        self.primary_address = f"unix:{rundir / 'primary.sock'}"
        self.replicas: dict[int, Replica] = {}
        self._channels: dict[int, grpc.aio.Channel] = {}
        self._ctx = multiprocessing.get_context("spawn")
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(i) for i in range(1, self.config.processes)))
        self._watch_task = asyncio.create_task(self._watch())

    async def _spawn(self, index: int) -> None:
        socket = self.rundir / f"replica-{index}.sock"
        receive, send = self._ctx.Pipe(duplex=False)
        args = (self.config, self.port, self.primary_address, index, str(socket), send)
        proc = self._ctx.Process(
            target=replica_main, args=args, name=f"optsched-replica-{index}", daemon=True
        )
        proc.start()
        send.close()
        self.replicas[index] = Replica(index, proc, socket)
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, _wait_ready, receive, READY_TIMEOUT_S)
        if not ready:
            proc.kill()
            proc.join()
            raise ConfigError(f"replica {index} did not start (exit code {proc.exitcode})")

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(WATCH_S)
            for index, r in list(self.replicas.items()):
                if r.process.is_alive() or self._stopping:
                    continue
                log.error(
                    "replica %d exited (code %s); starting it again", index, r.process.exitcode
                )
                r.process.join()
                await self._close_channel(index)
                try:
                    await self._spawn(index)
                    self.restarts += 1
                except ConfigError as exc:
                    log.error("%s; trying again in %.0f s", exc, WATCH_S)

    async def expositions(self) -> list[tuple[str, bytes]]:
        """Each live replica's metrics exposition, by process index."""
        out = []
        for index, r in sorted(self.replicas.items()):
            channel = self._channels.get(index)
            if channel is None:
                channel = self._channels[index] = grpc.aio.insecure_channel(f"unix:{r.socket}")
            try:
                text = await channel.unary_unary(METRICS_METHOD, None, None)(
                    b"", timeout=SCRAPE_TIMEOUT_S
                )
            except grpc.aio.AioRpcError as exc:
                log.warning("replica %d metrics unavailable: %s", index, exc.code().name)
                continue
            out.append((str(index), text))
        return out

    async def stop(self, grace_s: float) -> None:
        """SIGTERM every replica; kill those still running after the grace
        period (plus a little for their own shutdown)."""
        self._stopping = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        procs = [r.process for r in self.replicas.values()]
        for p in procs:
            if p.is_alive():
                p.terminate()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _join_all, procs, grace_s + EXIT_SLACK_S)
        for p in procs:
            if p.is_alive():
                log.error("replica pid %s ignored SIGTERM; killing it", p.pid)
                p.kill()
                p.join()
        for index in list(self._channels):
            await self._close_channel(index)

    async def _close_channel(self, index: int) -> None:
        channel = self._channels.pop(index, None)
        if channel is not None:
            await channel.close(None)


def _wait_ready(conn: Connection, timeout_s: float) -> bool:
    try:
        return conn.poll(timeout_s) and conn.recv() == "ready"
    except EOFError:  # the replica exited before it was ready
        return False
    finally:
        conn.close()


def _join_all(procs: list[BaseProcess], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))


# -- the replica's side ------------------------------------------------------


def replica_main(
    config: ServerConfig, port: int, primary: str, index: int, socket: str, ready: Connection
) -> None:
    """Entry point of a replica process."""
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s %(levelname)s replica-{index} %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, port, primary, socket, ready))


async def _serve(
    config: ServerConfig, port: int, primary: str, socket: str, ready: Connection
) -> None:
    from optsched.api.server import Server  # the server module imports this one
    from optsched.heap import settle_heap

    server = Server(replace(config, port=port, http_port=None), primary=primary)
    await server.start()
    settle_heap()

    async def metrics(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return server.metrics.exposition()

    internal = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(metrics)
    internal.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(METRICS_SERVICE, {"Metrics": handler}),)
    )
    internal.add_insecure_port(f"unix:{socket}")
    await internal.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    ready.send("ready")
    ready.close()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_S)
        if os.getppid() != parent:
            log.error("the primary process is gone; stopping")
            break
    await server.stop()
    await internal.stop(0)
