"""The job store: one SQLite table in WAL mode.

Every state change is a committed transaction before it is acknowledged, so
a server killed at any moment loses no submitted job. On start-up,
:meth:`JobStore.recover` puts jobs that were running back in the queue; the
runner re-runs them (a solve has no intermediate state worth resuming: an
anytime solver's progress is its budget, and the re-run gets the whole
budget again). Access is serialized by a lock; each call is a short
transaction, so callers on the event loop do not wait noticeably.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    request BLOB NOT NULL,
    budget_s REAL NOT NULL,
    result BLOB,
    error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    submitted_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, seq);
"""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    seq: int
    job_id: str
    kind: str
    label: str
    state: JobState
    request: bytes
    budget_s: float
    result: bytes | None
    error: str
    attempts: int
    submitted_at: float
    started_at: float | None
    finished_at: float | None

    def progress(self, now: float | None = None) -> float:
        """Share of the budget spent while running; 1 when finished."""
        if self.state.finished:
            return 1.0
        if self.state is JobState.RUNNING and self.started_at is not None:
            spent = ((now or time.time()) - self.started_at) / self.budget_s
            return min(0.99, max(0.0, spent))
        return 0.0


COLUMNS = ", ".join(JobRecord.__dataclass_fields__)


def _record(row: tuple[Any, ...]) -> JobRecord:
    values = dict(zip(JobRecord.__dataclass_fields__, row, strict=True))
    values["state"] = JobState(values["state"])
    return JobRecord(**values)


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {COLUMNS} FROM jobs {sql}", args).fetchall()
        return [_record(r) for r in rows]

    def _write(self, sql: str, args: tuple[object, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def submit(self, kind: str, request: bytes, budget_s: float, label: str = "") -> JobRecord:
        job_id = uuid.uuid4().hex
        self._write(
            "INSERT INTO jobs (job_id, kind, label, state, request, budget_s, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, kind, label, JobState.QUEUED.value, request, budget_s, time.time()),
        )
        return self.get(job_id)  # type: ignore[return-value]

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._rows("WHERE job_id = ?", (job_id,))
        return rows[0] if rows else None

    def page(self, states: list[JobState], after_seq: int, limit: int) -> list[JobRecord]:
        where = "WHERE seq > ?"
        args: list[object] = [after_seq]
        if states:
            where += f" AND state IN ({', '.join('?' * len(states))})"
            args += [s.value for s in states]
        return self._rows(f"{where} ORDER BY seq LIMIT ?", (*args, limit))

    def next_queued(self, limit: int) -> list[JobRecord]:
        return self._rows("WHERE state = ? ORDER BY seq LIMIT ?", (JobState.QUEUED.value, limit))

    def start(self, job_id: str) -> bool:
        """Mark a queued job running; False if it is no longer queued."""
        return (
            self._write(
                "UPDATE jobs SET state = ?, started_at = ?, attempts = attempts + 1 WHERE job_id = ? AND state = ?",
                (JobState.RUNNING.value, time.time(), job_id, JobState.QUEUED.value),
            )
            == 1
        )

    def finish(
        self, job_id: str, state: JobState, result: bytes | None = None, error: str = ""
    ) -> bool:
        """Record a running job's outcome; False if it was cancelled meanwhile."""
        return (
            self._write(
                "UPDATE jobs SET state = ?, result = ?, error = ?, finished_at = ? WHERE job_id = ? AND state = ?",
                (state.value, result, error, time.time(), job_id, JobState.RUNNING.value),
            )
            == 1
        )

    def cancel(self, job_id: str) -> JobState | None:
        """Cancel a queued or running job; returns the state it had."""
        job = self.get(job_id)
        if job is None or job.state.finished:
            return job.state if job else None
        self._write(
            "UPDATE jobs SET state = ?, finished_at = ? WHERE job_id = ? AND state IN (?, ?)",
            (
                JobState.CANCELLED.value,
                time.time(),
                job_id,
                JobState.QUEUED.value,
                JobState.RUNNING.value,
            ),
        )
        return job.state

    def recover(self) -> int:
        """Requeue jobs a stopped server left running; returns how many."""
        return self._write(
            "UPDATE jobs SET state = ?, started_at = NULL WHERE state = ?",
            (JobState.QUEUED.value, JobState.RUNNING.value),
        )

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        out = {s.value: 0 for s in JobState}
        out.update({state: n for state, n in rows})
        return out
