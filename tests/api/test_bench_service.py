"""``optsched bench service``'s load generator against a loopback server."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from svc_live import LiveServer

from optsched.bench.service import (
    ECHO,
    SCENARIOS,
    _level,
    _of_echo,
    _process_counts,
    _request,
    _start_server,
)
from optsched.errors import ConfigError


def test_a_level_counts_every_request(live: LiveServer) -> None:
    small = SCENARIOS[0]
    payloads = [_request(small, v) for v in range(3)]
    row = asyncio.run(_level(live.address, small, payloads, clients=3, count=12))
    assert row["requests"] == 12 and row["errors"] == 0 and row["in_deadline"] == 1.0
    assert row["codes"] == {"OK": 12}
    assert 0 < row["p50_ms"] <= row["p99_ms"] and row["req_per_s"] > 0


def test_process_counts() -> None:
    assert _process_counts("1,2") == [1, 2]
    for bad in ("", "0", "1,x", "-1"):
        with pytest.raises(ConfigError, match="--processes"):
            _process_counts(bad)


def test_echo_server_starts_its_replica_answers_and_stops(tmp_path: Path) -> None:
    small = SCENARIOS[0]
    proc, target = _start_server(tmp_path, processes=2, echo=True)
    try:
        children = _children(proc.pid)
        assert len(children) == 1  # the replica
        row = asyncio.run(_level(target, small, [_request(small)], clients=4, count=16))
        assert row["codes"] == {"OK": 16}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in children)


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    out: list[int] = []
    for t in tasks.iterdir():
        text = (t / "children").read_text() if (t / "children").exists() else ""
        out += [int(c) for c in text.split()]
    return out


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_of_echo_is_the_share_of_the_echo_rate_in_the_same_cell() -> None:
    base = {"scenario": "small-heuristic", "clients": 8}
    rows = [
        {**base, "server": "optsched", "processes": 2, "req_per_s": 600.0},
        {**base, "server": ECHO, "processes": 2, "req_per_s": 1200.0},
        {**base, "server": "optsched", "processes": 1, "req_per_s": 300.0},
    ]
    _of_echo(rows)
    assert rows[0]["of_echo"] == 0.5
    assert "of_echo" not in rows[1] and "of_echo" not in rows[2]
