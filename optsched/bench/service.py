"""``optsched bench service``: a loopback load generator against a running
server (``--target``) or servers it starts itself, one per process count in
``--processes`` (default 1 and 2), side by side.

Each client has its own connection, as independent callers do (and as the
kernel needs to spread connections over a server's processes). Scenarios,
each at 1, 8 and 64 concurrent clients, bounded in request count and in
time: small heuristic requests (pod placement, first-fit-decreasing,
5 nodes / 4 running and 4 pending pods) and mid-size CP-SAT requests
(cpsat-placement, 30 nodes / 60 running and 60 pending pods). Within a run,
every request carries the same nodes and running pods and new pending pods,
as a scheduler's successive questions do (so the server's decode cache
finds the cluster, never the new pods). Reports throughput, p50/p99
latency, errors, and deadline adherence: CP-SAT requests ask for a 5 s budget under a 1 s call deadline, so
the server must cap the budget by the deadline; adherence is the share
answered before the deadline.

The transport ceiling: with each process count, the small scenario also runs
against :mod:`optsched.bench.service_echo`, a ``grpc.aio`` server that
answers with the request's bytes and does no work (``--no-echo`` skips it).
Its rate is what Python gRPC itself allows on the machine next to the load
generator; the ``of_echo`` column is the server's share of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optsched.bench import service_echo
from optsched.bench.report import format_table, write_json
from optsched.errors import ConfigError

HELP = "loopback load against the gRPC server: requests/s, p50/p99, deadline adherence at 1/8/64 clients"
READY = re.compile(r"optsched serving grpc=([\d.]+:\d+)")
CONCURRENCY = (1, 8, 64)
CPSAT_BUDGET_S = 5.0
CPSAT_DEADLINE_S = 1.0
SMALL_DEADLINE_S = 5.0
ECHO = "echo"  # the transport-only server (optsched.bench.service_echo)
ECHO_READY = re.compile(re.escape(service_echo.READY_PREFIX) + r"([\d.]+:\d+)")


@dataclass(frozen=True)
class Scenario:
    name: str
    solver: str
    nodes: int
    pods: int
    budget_s: float
    deadline_s: float
    count: int  # per concurrency level (full run)
    quick_count: int
    time_cap_s: float


SCENARIOS = (
    Scenario(
        "small-heuristic", "first-fit-decreasing", 5, 4, 1.0, SMALL_DEADLINE_S, 5000, 1500, 20.0
    ),
    Scenario(
        "mid-cpsat", "cpsat-placement", 30, 60, CPSAT_BUDGET_S, CPSAT_DEADLINE_S, 200, 24, 30.0
    ),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", help="a running server (default: start one on loopback)")
    p.add_argument("--quick", action="store_true", help="fewer requests per level")
    p.add_argument(
        "--no-echo", action="store_true", help="skip the transport-only echo server's runs"
    )
    p.add_argument(
        "--processes",
        default="1,2",
        help="serving processes of the servers started, comma-separated (default 1,2)",
    )


def _request(s: Scenario, variant: int = 0) -> bytes:
    """A request of scenario ``s``: the same nodes and running pods in every
    variant, pending pods named for the variant (a scheduler's next question
    is about new pods in a cluster it has described before)."""
    from optsched.api.convert_problems import KINDS
    from optsched.model import Assignment, Item, Node, Resources, Snapshot
    from optsched.problems import PodPlacement

    def res(cpu_millis: int, memory_mib: int) -> Resources:
        return Resources.of({"cpu_millis": cpu_millis, "memory_mib": memory_mib})

    nodes = tuple(Node(f"n{i}", res(8000, 16384)) for i in range(s.nodes))
    placed = [Item(f"run{j}", res(500 + 250 * (j % 5), 512 * (1 + j % 4))) for j in range(s.pods)]
    pending = [
        Item(f"new{variant}-{j}", res(750 + 250 * (j % 7), 1024 * (1 + j % 3)))
        for j in range(s.pods)
    ]
    assign = {it.item_id: Assignment(f"n{j % s.nodes}") for j, it in enumerate(placed)}
    problem = PodPlacement(Snapshot(nodes, (*placed, *pending), assign))
    return KINDS["place_pods"].request_for(problem, s.budget_s, s.solver).SerializeToString()  # type: ignore[no-any-return]


async def _level(
    target: str, s: Scenario, payloads: Sequence[bytes], clients: int, count: int
) -> dict[str, Any]:
    """``count`` calls from ``clients`` concurrent clients, the i-th sending
    ``payloads[i % len(payloads)]``."""
    import grpc

    latencies: list[float] = []
    codes: dict[str, int] = {}
    deadline_at = time.monotonic() + s.time_cap_s
    # one connection per client: gRPC would otherwise share one among channels
    options = [("grpc.use_local_subchannel_pool", 1)]
    channels = [grpc.aio.insecure_channel(target, options=options) for _ in range(clients)]
    try:
        remaining = [count]

        async def client(channel: grpc.aio.Channel) -> None:
            call = channel.unary_unary("/optsched.v1.Placement/PlacePods", None, None)
            while remaining[0] > 0 and time.monotonic() < deadline_at:
                remaining[0] -= 1
                payload = payloads[remaining[0] % len(payloads)]
                t0 = time.perf_counter()
                try:
                    await call(payload, timeout=s.deadline_s)
                    code = "OK"
                except grpc.aio.AioRpcError as exc:
                    code = exc.code().name
                latencies.append(time.perf_counter() - t0)
                codes[code] = codes.get(code, 0) + 1

        await asyncio.gather(*(ch.channel_ready() for ch in channels))
        started = time.perf_counter()
        await asyncio.gather(*(client(ch) for ch in channels))
        elapsed = time.perf_counter() - started
    finally:
        for ch in channels:
            await ch.close(None)
    lat = sorted(latencies)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3 if lat else float("nan")  # noqa: E731
    ok = codes.get("OK", 0)
    return {
        "scenario": s.name,
        "clients": clients,
        "requests": len(lat),
        "req_per_s": len(lat) / elapsed if elapsed else 0.0,
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "errors": len(lat) - ok,
        "in_deadline": ok / len(lat) if lat else 0.0,
        "codes": codes,
    }


def _start_server(tmp: Path, processes: int, echo: bool) -> tuple[subprocess.Popen[str], str]:
    """``optsched serve`` (or, with ``echo``, the transport-only server) on a
    free loopback port, and its address once it listens."""
    if echo:
        cmd = [sys.executable, "-m", "optsched.bench.service_echo", "--port", "0"]
    else:
        exe = Path(sys.executable).parent / "optsched"
        db = tmp / f"bench-jobs-{processes}.sqlite3"
        cmd = [str(exe), "serve", "--port", "0", "--no-http", "--db", str(db)]
    cmd += ["--processes", str(processes)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready = ECHO_READY if echo else READY
    for line in proc.stdout:
        if m := ready.search(line):
            return proc, m.group(1)
    raise RuntimeError(f"server exited with {proc.wait()}")


async def _run_all(
    target: str, quick: bool, processes: int | None, server: str = "optsched"
) -> list[dict[str, Any]]:
    rows = []
    for s in SCENARIOS if server == "optsched" else SCENARIOS[:1]:
        await _level(target, s, [_request(s)], 1, 3)  # warm-up: imports, first CP-SAT model
        for level, clients in enumerate(CONCURRENCY, start=1):
            count = max(s.quick_count if quick else s.count, clients)
            # every request of a run asks about pods no earlier one named
            payloads = [_request(s, level * count + i) for i in range(count)]
            row = await _level(target, s, payloads, clients, count)
            rows.append({"server": server, "processes": processes, **row})
    return rows


def _of_echo(rows: list[dict[str, Any]]) -> None:
    """``of_echo``: a server row's rate over the echo server's in the same
    scenario, process count and concurrency."""
    echo = {
        (r["scenario"], r["processes"], r["clients"]): r["req_per_s"]
        for r in rows
        if r["server"] == ECHO
    }
    for r in rows:
        ceiling = echo.get((r["scenario"], r["processes"], r["clients"]))
        if r["server"] != ECHO and ceiling:
            r["of_echo"] = r["req_per_s"] / ceiling


def _process_counts(text: str) -> list[int]:
    try:
        counts = [int(p) for p in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigError(f"--processes: expected positive integers like 1,2, got {text!r}")
    return counts


def _run_servers(counts: list[int], quick: bool, echo: bool) -> list[dict[str, Any]]:
    """The scenarios against a server started with each process count in
    turn, each followed by the echo server with as many processes."""
    rows: list[dict[str, Any]] = []
    for processes in counts:
        for server in ("optsched", ECHO) if echo else ("optsched",):
            with tempfile.TemporaryDirectory() as tmp:
                proc, target = _start_server(Path(tmp), processes, server == ECHO)
                try:
                    rows += asyncio.run(_run_all(target, quick, processes, server))
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(60)
    _of_echo(rows)
    return rows


def run(args: argparse.Namespace) -> int:
    if args.target:
        rows = asyncio.run(_run_all(args.target, args.quick, None))
    else:
        rows = _run_servers(_process_counts(args.processes), args.quick, not args.no_echo)
    columns = [
        "server",
        "processes",
        "scenario",
        "clients",
        "requests",
        "req_per_s",
        "p50_ms",
        "p99_ms",
        "errors",
        "in_deadline",
        "of_echo",
    ]
    print(format_table(rows, columns))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    note = "load generator and server share the machine's cores; one connection per client"
    path = write_json(
        "service", {"rows": rows, "cores": cores, "note": note, "quick": args.quick}, Path(args.out)
    )
    print(f"wrote {path}")
    return 0
