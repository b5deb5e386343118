"""``optsched bench service``'s load generator against a loopback server."""

from __future__ import annotations

import asyncio

import pytest
from svc_live import LiveServer

from optsched.bench.service import SCENARIOS, _level, _process_counts, _request
from optsched.errors import ConfigError


def test_a_level_counts_every_request(live: LiveServer) -> None:
    small = SCENARIOS[0]
    row = asyncio.run(_level(live.address, small, _request(small), clients=3, count=12))
    assert row["requests"] == 12 and row["errors"] == 0 and row["in_deadline"] == 1.0
    assert row["codes"] == {"OK": 12}
    assert 0 < row["p50_ms"] <= row["p99_ms"] and row["req_per_s"] > 0


def test_process_counts() -> None:
    assert _process_counts("1,2") == [1, 2]
    for bad in ("", "0", "1,x", "-1"):
        with pytest.raises(ConfigError, match="--processes"):
            _process_counts(bad)
