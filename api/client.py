"""Python client for the optsched service.

    with Client("127.0.0.1:50051") as c:
        response = c.solve(request)          # any solve request message
        job = c.submit(request, label="nightly")
        done = c.wait(job.job_id, on_progress=print)
        result = c.result(job.job_id)

TLS: pass ``ca`` (and ``cert``/``key`` for mutual TLS) as PEM bytes; a
bearer ``token`` is sent on every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.message import Message

from optsched.api.convert_problems import KINDS, kind_of_request, rpc_paths
from optsched.api.v1 import jobs_pb2, jobs_pb2_grpc

FINISHED = (jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_FAILED, jobs_pb2.JOB_STATE_CANCELLED)
# Time allowed on top of a request's budget for transport and conversion.
DEADLINE_SLACK_S = 5.0
POLL_S = 0.25


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


class Client:
    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        *,
        ca: bytes | None = None,
        cert: bytes | None = None,
        key: bytes | None = None,
        token: str | None = None,
        server_name: str | None = None,
    ) -> None:
        options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        if ca is not None or cert is not None:
            creds = grpc.ssl_channel_credentials(
                root_certificates=ca, private_key=key, certificate_chain=cert
            )
            self.channel = grpc.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._solve = {
            name: self.channel.unary_unary(
                path,
                request_serializer=_serialize,
                response_deserializer=KINDS[name].response.FromString,
            )
            for name, path in rpc_paths().items()
        }
        self.jobs = jobs_pb2_grpc.JobsStub(self.channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def solve(self, request: Message, timeout: float | None = None) -> Any:
        """Send any solve request; the deadline defaults to its budget plus slack."""
        kind = kind_of_request(request)
        budget = request.budget.ToNanoseconds() / 1e9 if request.HasField("budget") else 0.0  # type: ignore[attr-defined]
        deadline = timeout if timeout is not None else (budget or 30.0) + DEADLINE_SLACK_S
        return self._solve[kind.name](request, timeout=deadline, metadata=self.metadata)

    def submit(self, request: Message, label: str = "", timeout: float = 60.0) -> jobs_pb2.Job:
        kind = kind_of_request(request)
        spec = jobs_pb2.JobSpec(**{kind.name: request})  # type: ignore[arg-type]
        reply = self.jobs.SubmitJob(
            jobs_pb2.SubmitJobRequest(spec=spec, label=label),
            timeout=timeout,
            metadata=self.metadata,
        )
        return reply.job

    def job(self, job_id: str, timeout: float = 10.0) -> jobs_pb2.Job:
        return self.jobs.GetJob(
            jobs_pb2.GetJobRequest(job_id=job_id), timeout=timeout, metadata=self.metadata
        ).job

    def list(self, states: list[int] | None = None, page_size: int = 100) -> list[jobs_pb2.Job]:
        out, token = [], ""
        while True:
            req = jobs_pb2.ListJobsRequest(
                states=states or [],  # type: ignore[arg-type]
                page_size=page_size,
                page_token=token,
            )
            reply = self.jobs.ListJobs(req, timeout=10.0, metadata=self.metadata)
            out += list(reply.jobs)
            token = reply.next_page_token
            if not token:
                return out

    def cancel(self, job_id: str) -> jobs_pb2.Job:
        return self.jobs.CancelJob(
            jobs_pb2.CancelJobRequest(job_id=job_id), timeout=10.0, metadata=self.metadata
        ).job

    def result(self, job_id: str) -> Any:
        """The job's solve response (the message its kind's RPC returns)."""
        reply = self.jobs.GetJobResult(
            jobs_pb2.GetJobResultRequest(job_id=job_id), timeout=30.0, metadata=self.metadata
        )
        which = reply.WhichOneof("result")
        assert which in KINDS, which
        return getattr(reply, which)

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[jobs_pb2.Job], None] | None = None,
        timeout: float | None = None,
    ) -> jobs_pb2.Job:
        """Poll until the job finishes; ``on_progress`` sees every poll."""
        started = time.monotonic()
        while True:
            job = self.job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job.state in FINISHED:
                return job
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f"job {job_id} still {jobs_pb2.JobState.Name(job.state)}")
            time.sleep(POLL_S)
