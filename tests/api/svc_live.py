"""A real server on loopback: run on its own event loop in a thread
(:class:`LiveServer`), or as an ``optsched serve`` subprocess
(:func:`serve_subprocess`)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc

from optsched.api.config import ServerConfig
from optsched.api.server import Server
from optsched.portfolio import Portfolio


class LiveServer:
    def __init__(self, tmp: Path, portfolio: Portfolio | None = None, **overrides: Any) -> None:
        self.config = replace(
            ServerConfig(port=0, http_port=0, db_path=tmp / "jobs.sqlite3"), **overrides
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = Server(self.config, portfolio)
        self.call(self.server.start())

    def call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.grpc_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    def stop(self, grace_s: float = 0.0) -> None:
        self.call(self.server.stop(grace_s))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


OPTSCHED = str(Path(sys.executable).parent / "optsched")
READY = re.compile(r"optsched serving grpc=127\.0\.0\.1:(\d+)")


def serve_subprocess(args: list[str], **popen: Any) -> tuple[subprocess.Popen[str], int]:
    """``optsched serve *args`` on port 0, once it serves; returns it and its port."""
    proc = subprocess.Popen(
        [OPTSCHED, "serve", "--port", "0", *args], stdout=subprocess.PIPE, text=True, **popen
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := READY.search(line):
            return proc, int(m.group(1))
    raise AssertionError(f"server exited with {proc.wait()}")


def wait_for(predicate, what: str, limit_s: float = 120.0):  # type: ignore[no-untyped-def]
    """The first true value of ``predicate()``, polled every 0.1 s."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
