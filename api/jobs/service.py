"""The Jobs servicer: submit, status and progress, list, cancel, result."""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from optsched.api.convert_problems import KINDS, budget_from_proto
from optsched.api.errors import NotFound, NotReady
from optsched.api.jobs.runner import JobRunner
from optsched.api.jobs.store import JobRecord, JobState, JobStore
from optsched.api.solving import SolveService, check_solver
from optsched.api.v1 import jobs_pb2
from optsched.errors import DomainError

JOBS_SERVICE = jobs_pb2.DESCRIPTOR.services_by_name["Jobs"]
STATE_TO_PROTO = {
    JobState.QUEUED: jobs_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: jobs_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: jobs_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: jobs_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: jobs_pb2.JOB_STATE_CANCELLED,
}
STATE_FROM_PROTO = {v: k for k, v in STATE_TO_PROTO.items()}
DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_LABEL_CHARS = 256


def _time(seconds: float | None, msg: timestamp_pb2.Timestamp) -> None:
    if seconds is not None:
        msg.FromNanoseconds(round(seconds * 1e9))


def job_to_proto(job: JobRecord) -> jobs_pb2.Job:
    msg = jobs_pb2.Job(
        job_id=job.job_id,
        state=STATE_TO_PROTO[job.state],
        progress=job.progress(),
        kind=job.kind,
        label=job.label,
        attempts=job.attempts,
        error=job.error,
    )
    _time(job.submitted_at, msg.submitted_at)
    _time(job.started_at, msg.started_at)
    _time(job.finished_at, msg.finished_at)
    return msg


class JobsService:
    def __init__(self, store: JobStore, runner: JobRunner, solving: SolveService) -> None:
        self.store, self.runner, self.solving = store, runner, solving

    def _job(self, job_id: str) -> JobRecord:
        if not job_id:
            raise DomainError("job_id", "must not be empty")
        job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    def _check(self, request: jobs_pb2.SubmitJobRequest) -> tuple[str, bytes, float]:
        """Validate the spec completely (off the event loop): kind, problem, budget, solver."""
        which = request.spec.WhichOneof("problem")
        if which is None:
            raise DomainError("spec", f"must set one of: {', '.join(KINDS)}")
        kind, inner = KINDS[which], getattr(request.spec, which)
        config = self.solving.config
        problem = kind.decode(
            getattr(inner, kind.field), f"spec.{which}.{kind.field}", config.limits
        )
        budget_s = budget_from_proto(
            inner.budget,
            f"spec.{which}.budget",
            config.default_job_budget_s,
            config.limits.max_job_budget_s,
        )
        check_solver(self.solving.portfolio, inner.solver, problem, f"spec.{which}.solver")
        return which, inner.SerializeToString(), budget_s

    async def submit(
        self, request: jobs_pb2.SubmitJobRequest, context: Any
    ) -> jobs_pb2.SubmitJobResponse:
        if len(request.label) > MAX_LABEL_CHARS:
            raise DomainError("label", f"at most {MAX_LABEL_CHARS} characters")
        which, payload, budget_s = await self.solving.run(self._check, request)
        job = self.store.submit(which, payload, budget_s, request.label)
        self.runner.wake()
        return jobs_pb2.SubmitJobResponse(job=job_to_proto(job))

    async def get(self, request: jobs_pb2.GetJobRequest, context: Any) -> jobs_pb2.GetJobResponse:
        return jobs_pb2.GetJobResponse(job=job_to_proto(self._job(request.job_id)))

    async def list(
        self, request: jobs_pb2.ListJobsRequest, context: Any
    ) -> jobs_pb2.ListJobsResponse:
        if not 0 <= request.page_size <= MAX_PAGE:
            raise DomainError("page_size", f"must be in 0..{MAX_PAGE}")
        states = []
        for i, s in enumerate(request.states):
            if s not in STATE_FROM_PROTO:
                raise DomainError(f"states[{i}]", f"unknown job state {s}")
            states.append(STATE_FROM_PROTO[s])
        token = request.page_token
        if token and not (token.isascii() and token.isdigit() and len(token) < 19):
            raise DomainError("page_token", "is not a token this server returned")
        limit = request.page_size or DEFAULT_PAGE
        jobs = self.store.page(states, int(token or 0), limit)
        next_token = str(jobs[-1].seq) if len(jobs) == limit else ""
        return jobs_pb2.ListJobsResponse(
            jobs=[job_to_proto(j) for j in jobs], next_page_token=next_token
        )

    async def cancel(
        self, request: jobs_pb2.CancelJobRequest, context: Any
    ) -> jobs_pb2.CancelJobResponse:
        self._job(request.job_id)
        self.runner.cancel(request.job_id)
        return jobs_pb2.CancelJobResponse(job=job_to_proto(self._job(request.job_id)))

    async def result(
        self, request: jobs_pb2.GetJobResultRequest, context: Any
    ) -> jobs_pb2.GetJobResultResponse:
        job = self._job(request.job_id)
        if job.state is not JobState.SUCCEEDED or job.result is None:
            raise NotReady(
                f"job {job.job_id} is {job.state.value}{': ' + job.error if job.error else ''}"
            )
        out = jobs_pb2.GetJobResultResponse(job=job_to_proto(job))
        getattr(out, job.kind).ParseFromString(job.result)
        return out

    def handlers(self) -> dict[str, Any]:
        return {
            "SubmitJob": self.submit,
            "GetJob": self.get,
            "ListJobs": self.list,
            "CancelJob": self.cancel,
            "GetJobResult": self.result,
        }
