"""The Jobs service over a loopback server: submit, status, list with
pages, cancel (queued and running), results and their errors."""

from __future__ import annotations

import grpc
import pytest
from svc_builders import place_pods_request, reschedule_request
from svc_live import LiveServer

from optsched.api.client import Client
from optsched.api.v1 import jobs_pb2, types_pb2


def test_job_lifecycle_and_cancel(fresh: LiveServer) -> None:
    with Client(fresh.address) as c:
        first = c.submit(reschedule_request(budget_s=1.0), label="first")
        queued = c.submit(place_pods_request(), label="second")
        cancelled = c.cancel(queued.job_id)
        assert cancelled.state == jobs_pb2.JOB_STATE_CANCELLED
        done = c.wait(first.job_id, timeout=120)
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED and done.progress == 1.0
        assert c.result(first.job_id).info.status in (
            types_pb2.SOLVE_STATUS_OPTIMAL,
            types_pb2.SOLVE_STATUS_FEASIBLE,
        )
        with pytest.raises(grpc.RpcError) as exc:
            c.result(queued.job_id)
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        states = {j.label: j.state for j in c.list(page_size=1)}
        assert states == {
            "first": jobs_pb2.JOB_STATE_SUCCEEDED,
            "second": jobs_pb2.JOB_STATE_CANCELLED,
        }
        only = c.list(states=[jobs_pb2.JOB_STATE_CANCELLED])
        assert [j.label for j in only] == ["second"]


def test_job_errors(live: LiveServer) -> None:
    stub_client = Client(live.address)
    with pytest.raises(grpc.RpcError) as exc:
        stub_client.job("no-such-job")
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    bad = reschedule_request()
    bad.reschedule.migration_limit = -1
    with pytest.raises(grpc.RpcError) as exc:
        stub_client.submit(bad)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert exc.value.details().startswith("spec.reschedule.reschedule.migration_limit")
    with pytest.raises(grpc.RpcError) as exc:
        stub_client.jobs.SubmitJob(jobs_pb2.SubmitJobRequest(), timeout=10)
    assert exc.value.details().startswith("spec:")
    with pytest.raises(grpc.RpcError) as exc:
        stub_client.jobs.ListJobs(jobs_pb2.ListJobsRequest(page_token="x"), timeout=10)
    assert exc.value.details().startswith("page_token:")
    stub_client.close()
