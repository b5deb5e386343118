"""Runs queued jobs, ``job_workers`` at a time, each in its own spawned
process, and records their outcomes in the store.

Cancelling a running job terminates its process. Stopping the server
terminates running jobs without recording an outcome, so that they stay
``running`` in the store and :meth:`JobStore.recover` requeues them at the
next start (as after a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from optsched.api.config import ServerConfig
from optsched.api.jobs.store import JobRecord, JobState, JobStore
from optsched.api.jobs.worker import OK, run_job
from optsched.api.metrics import Metrics

log = logging.getLogger(__name__)

# How often the runner looks at the queue when nothing wakes it.
POLL_S = 1.0


def _receive(conn: Connection, proc: BaseProcess) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        message = None
    proc.join()
    return message


class JobRunner:
    def __init__(self, store: JobStore, config: ServerConfig, metrics: Metrics) -> None:
        self.store, self.config, self.metrics = store, config, metrics
        self.running: dict[str, BaseProcess] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ctx = multiprocessing.get_context("spawn")

    def start(self) -> None:
        requeued = self.store.recover()
        if requeued:
            log.warning("requeued %d job(s) left running by a previous server", requeued)
        self._loop_task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            free = self.config.job_workers - len(self.running)
            for job in self.store.next_queued(free) if free > 0 else []:
                if self.store.start(job.job_id):
                    task = asyncio.create_task(self._run(job))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            self.metrics.record_jobs(self.store.counts())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            self._wake.clear()

    async def _run(self, job: JobRecord) -> None:
        parent, child = self._ctx.Pipe(duplex=False)
        args = (child, job.kind, job.request, job.budget_s, self.config.limits, self.config.plugins)
        proc = self._ctx.Process(target=run_job, args=args, daemon=True, name=f"job-{job.job_id}")
        proc.start()
        child.close()
        self.running[job.job_id] = proc
        try:
            message = await asyncio.to_thread(_receive, parent, proc)
        finally:
            self.running.pop(job.job_id, None)
            parent.close()
        if not self._stopping:
            self._record(job, message, proc.exitcode)
        self.wake()

    def _record(self, job: JobRecord, message: Any, exitcode: int | None) -> None:
        if message is None:
            error = f"job worker exited with code {exitcode} before answering"
            self.store.finish(job.job_id, JobState.FAILED, error=error)
        elif message[0] == OK:
            self.store.finish(job.job_id, JobState.SUCCEEDED, result=message[1])
        else:
            self.store.finish(job.job_id, JobState.FAILED, error=message[1])

    def cancel(self, job_id: str) -> JobState | None:
        before = self.store.cancel(job_id)
        proc = self.running.get(job_id)
        if before is JobState.RUNNING and proc is not None:
            proc.terminate()
        self.wake()
        return before

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        for proc in list(self.running.values()):
            proc.terminate()
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
