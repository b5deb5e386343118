"""Server configuration, with embedded defaults: loopback only, plaintext,
no token, a SQLite job store in the working directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from optsched.api.limits import Limits
from optsched.errors import ConfigError

DEFAULT_GRPC_PORT = 50051
DEFAULT_HTTP_PORT = 50052
# Used when a request sets no budget.
DEFAULT_BUDGET_S = 5.0
DEFAULT_JOB_BUDGET_S = 60.0
# Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
DEFAULT_GRACE_S = 10.0
# Held back from the caller's deadline for queueing, conversion and serialization:
# a fixed part plus a share of what remains.
DEADLINE_MARGIN_S = 0.005
DEADLINE_MARGIN_SHARE = 0.05
# Solves admitted (queued or running) per worker thread; a small request takes
# about a millisecond, so 32 queued per worker wait tens of milliseconds, and a
# longer queue would only turn into missed deadlines. With several serving
# processes each admits what the whole server would (32 per worker thread of
# all the processes): the kernel hands connections to the processes by a hash
# (SO_REUSEPORT), and one process may get most of them (over 30 trials of 8
# connections on 2 processes, 7 or 8 on one process in 4), so a per-process
# cap refused requests the server had the threads for (64 clients of 1 s
# CP-SAT requests on 2 processes: 105 of 200 refused, none with 1 process).
QUEUE_PER_WORKER = 32
# Nodes and items a server keeps decoded: a 5,000-node cluster's nodes and
# running pods of the size the limits allow, at a few KB each at most.
DECODE_CACHE_ENTRIES = 32_768


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class TlsConfig:
    cert: Path
    key: Path
    # With a client CA, clients must present a certificate it signed (mutual TLS).
    client_ca: Path | None = None

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        try:
            ca = self.client_ca.read_bytes() if self.client_ca else None
            return self.cert.read_bytes(), self.key.read_bytes(), ca
        except OSError as exc:
            raise ConfigError(f"TLS file unreadable: {exc}") from None


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_GRPC_PORT
    # Scheduler extender and /metrics; None disables the HTTP endpoint.
    http_port: int | None = DEFAULT_HTTP_PORT
    # Solve threads per process; 0: the usable CPUs shared among the
    # processes (at least one each), so that the processes' CP-SAT solves
    # together keep to the cores.
    workers: int = 0
    # Serving processes on the gRPC port: the primary and processes - 1
    # replicas (see optsched.api.replicas); more than one for many small
    # requests, which are CPU-bound Python.
    processes: int = 1
    max_concurrent: int = 0  # per process; 0: QUEUE_PER_WORKER * workers * processes
    # decoded nodes and items kept across requests (optsched.api.decode_cache); 0: none
    decode_cache: int = DECODE_CACHE_ENTRIES
    default_budget_s: float = DEFAULT_BUDGET_S
    default_job_budget_s: float = DEFAULT_JOB_BUDGET_S
    grace_s: float = DEFAULT_GRACE_S
    margin_s: float = DEADLINE_MARGIN_S
    margin_share: float = DEADLINE_MARGIN_SHARE
    tls: TlsConfig | None = None
    token: str | None = None
    db_path: Path = Path("optsched-jobs.sqlite3")
    job_workers: int = 1
    limits: Limits = field(default_factory=Limits)
    # Modules imported at start-up (and by job workers) that register extra solvers.
    plugins: tuple[str, ...] = ()
    # load lazily loaded solver state (the learned policy) before serving
    warm_up: bool = True
    # `kubectl get nodes,pods -A -o json` output the extender's view starts from.
    extender_snapshot: Path | None = None
    # Kubernetes API for the extender's bind verb: "in-cluster" or a URL.
    kube_api: str | None = None

    def __post_init__(self) -> None:
        if self.workers == 0 and self.processes >= 1:
            object.__setattr__(self, "workers", max(1, usable_cpus() // self.processes))
        if self.workers < 1 or self.job_workers < 1 or self.processes < 1:
            raise ConfigError("processes, workers and job workers must be at least 1")
        if self.max_concurrent < 0:
            raise ConfigError("max concurrent solves must not be negative")
        if self.decode_cache < 0 or self.decode_cache == 1:
            raise ConfigError("the decode cache holds 0 (off) or at least 2 entries")
        if not 0 < self.default_budget_s <= self.limits.max_budget_s:
            raise ConfigError(f"default budget must be in (0, {self.limits.max_budget_s}] s")
        if self.grace_s < 0 or self.margin_s < 0 or not 0 <= self.margin_share < 1:
            raise ConfigError("grace period and deadline margins must not be negative")
        if self.token is not None and not self.token:
            raise ConfigError("an empty bearer token would accept anyone; leave it unset instead")

    @property
    def cap(self) -> int:
        return self.max_concurrent or QUEUE_PER_WORKER * self.workers * self.processes

    def margin(self, remaining_s: float) -> float:
        return self.margin_s + self.margin_share * remaining_s
