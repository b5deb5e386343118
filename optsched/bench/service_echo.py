"""The transport ceiling for ``optsched bench service``: a ``grpc.aio``
server that answers ``/optsched.v1.Placement/PlacePods`` with the request's
own bytes, without decoding, solving or validating anything.

It is built like ``optsched serve`` (``grpc.aio``, one connection per client,
the same message sizes both ways, ``--processes N`` on one port through
``SO_REUSEPORT``, which gRPC sets on Linux), so the load generator's rate
against it bounds what any server written with Python gRPC can answer on
the machine while sharing its cores with the load generator.

Run as ``python -m optsched.bench.service_echo --port 0 --processes N``; it
prints ``echo serving grpc=HOST:PORT`` once every process listens and stops
on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys

METHOD = "/optsched.v1.Placement/PlacePods"
READY_PREFIX = "echo serving grpc="


async def _serve(port: int, replicas: int) -> None:
    """Serve on ``port``; a primary (``replicas`` >= 0) then starts that many
    replica processes on its port and announces the address."""
    import grpc

    service, method = METHOD.strip("/").split("/")

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        service, {method: grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[subprocess.Popen[str]] = []
    try:
        if replicas < 0:
            print("ready", flush=True)
        else:
            started = [_start_replica(bound) for _ in range(replicas)]
            print(f"{READY_PREFIX}127.0.0.1:{bound}", flush=True)
        await stop.wait()
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(10)
        await server.stop(0)


def _start_replica(port: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "optsched.bench.service_echo", "--port", str(port), "--replica"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"echo replica exited with {proc.wait()}")
    return proc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m optsched.bench.service_echo")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--replica", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.processes < 1:
        p.error("--processes must be at least 1")
    asyncio.run(_serve(args.port, -1 if args.replica else args.processes - 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
