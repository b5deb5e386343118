"""Jobs survive a SIGKILLed server: queued jobs stay queued, the running one
is re-run, and every job ends SUCCEEDED with a valid answer."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from svc_builders import place_pods_request, reschedule_request
from svc_live import serve_subprocess, wait_for

from optsched.api.client import Client
from optsched.api.convert_problems import KINDS
from optsched.api.convert_results import result_from_proto
from optsched.api.limits import Limits
from optsched.api.v1 import jobs_pb2
from optsched.validate import validate

HERE = Path(__file__).parent


def start(db: Path) -> tuple[subprocess.Popen[str], int]:
    """A server subprocess with the test-hold solver plugin; returns its port."""
    args = ["--no-http", "--db", str(db), "--job-workers", "1", "--grace", "0"]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    return serve_subprocess([*args, "--plugin", "svc_plugin"], cwd=db.parent, env=env)


def test_sigkill_loses_no_job(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    requests = [
        reschedule_request(budget_s=3.0, solver="test-hold"),
        place_pods_request(budget_s=3.0),
        reschedule_request(limit=1),
    ]
    proc, port = start(db)
    try:
        with Client(f"127.0.0.1:{port}") as client:
            ids = [client.submit(r, label=f"j{i}").job_id for i, r in enumerate(requests)]
            running = wait_for(
                lambda: [j for j in ids if client.job(j).state == jobs_pb2.JOB_STATE_RUNNING],
                "a running job",
            )
            assert client.job(ids[-1]).state == jobs_pb2.JOB_STATE_QUEUED
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    proc, port = start(db)
    try:
        with Client(f"127.0.0.1:{port}") as client:
            for job_id, request in zip(ids, requests, strict=True):
                job = client.wait(job_id, timeout=120)
                assert job.state == jobs_pb2.JOB_STATE_SUCCEEDED, job.error
                kind = KINDS[job.kind]
                report = validate(
                    kind.problem(request, Limits()), result_from_proto(client.result(job_id))
                )
                assert report.ok, report.summary()
            assert client.job(running[0]).attempts == 2
            assert sorted(j.job_id for j in client.list()) == sorted(ids)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_cancel_terminates_a_running_job(tmp_path: Path) -> None:
    proc, port = start(tmp_path / "jobs.sqlite3")
    try:
        with Client(f"127.0.0.1:{port}") as client:
            job = client.submit(reschedule_request(budget_s=300.0, solver="test-hold"))
            wait_for(lambda: client.job(job.job_id).state == jobs_pb2.JOB_STATE_RUNNING, "running")
            assert client.cancel(job.job_id).state == jobs_pb2.JOB_STATE_CANCELLED
            second = client.submit(reschedule_request(budget_s=1.0))
            # one job worker: the next job runs only once the cancelled one's process is gone
            assert client.wait(second.job_id, timeout=60).state == jobs_pb2.JOB_STATE_SUCCEEDED
            assert client.job(job.job_id).state == jobs_pb2.JOB_STATE_CANCELLED
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
