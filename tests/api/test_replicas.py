"""Several serving processes on one port: connections reach every process,
jobs live in the primary whichever process takes the call, metrics merge
under a ``process`` label, a dead replica is started again, and a replica
whose primary is killed stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from svc_builders import place_pods_request
from svc_live import LiveServer, serve_subprocess, wait_for

from optsched.api.client import Client
from optsched.api.config import ServerConfig
from optsched.api.convert_problems import KINDS
from optsched.api.limits import Limits
from optsched.api.server import Server
from optsched.api.v1 import jobs_pb2, jobs_pb2_grpc
from optsched.validate import validate

# Connections opened to reach both processes: the kernel hashes each one to a
# process, so all of them land on the same one with probability 2 * 2**-24.
CONNECTIONS = 24
PLACE = "/optsched.v1.Placement/PlacePods"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("replicas"), processes=2, warm_up=False)
    yield server
    server.stop()


def own_connections(address: str, n: int = CONNECTIONS) -> list[grpc.Channel]:
    """Channels that do not share one connection (gRPC pools them by default)."""
    return [
        grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(n)
    ]


def served_by_process(live: LiveServer) -> dict[str, float]:
    text = urllib.request.urlopen(f"{live.http}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("optsched_rpc_requests_total{") and f'method="{PLACE}"' in line:
            process = re.search(r'process="(\d+)"', line)
            assert process is not None, line
            out[process.group(1)] = out.get(process.group(1), 0.0) + float(line.split()[-1])
    return out


def place_through_own_connections(address: str) -> None:
    """One validated placement through each of CONNECTIONS new connections."""
    request = place_pods_request()
    problem = KINDS["place_pods"].problem(request, Limits())
    channels = own_connections(address)
    try:
        for ch in channels:
            call = ch.unary_unary(
                PLACE,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=KINDS["place_pods"].response.FromString,
            )
            response = call(request, timeout=30)
            assert validate(problem, KINDS["place_pods"].result_from(response)).ok
    finally:
        for ch in channels:
            ch.close()


def test_connections_reach_every_process_and_metrics_merge(pair: LiveServer) -> None:
    before = served_by_process(pair)
    place_through_own_connections(pair.address)
    after = served_by_process(pair)
    served = {p: after.get(p, 0.0) - before.get(p, 0.0) for p in after}
    assert set(served) == {"0", "1"}
    assert all(v > 0 for v in served.values()), served
    assert sum(served.values()) == CONNECTIONS


def test_jobs_submitted_through_any_process_live_in_the_primary(pair: LiveServer) -> None:
    channels = own_connections(pair.address)
    try:
        stubs = [jobs_pb2_grpc.JobsStub(ch) for ch in channels]
        submitted = [
            s.SubmitJob(
                jobs_pb2.SubmitJobRequest(
                    spec=jobs_pb2.JobSpec(place_pods=place_pods_request()), label=f"r{i}"
                ),
                timeout=30,
            ).job
            for i, s in enumerate(stubs)
        ]
        # read and cancel each job through another connection (often another process)
        for i, job in enumerate(submitted):
            other = stubs[(i + 1) % len(stubs)]
            got = other.GetJob(jobs_pb2.GetJobRequest(job_id=job.job_id), timeout=30).job
            assert got.label == job.label
            if i > 0:
                other.CancelJob(jobs_pb2.CancelJobRequest(job_id=job.job_id), timeout=30)
        with pytest.raises(grpc.RpcError) as exc:
            stubs[0].GetJob(jobs_pb2.GetJobRequest(job_id="no-such-job"), timeout=30)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        for ch in channels:
            ch.close()
    with Client(pair.address) as c:
        assert c.wait(submitted[0].job_id, timeout=120).state == jobs_pb2.JOB_STATE_SUCCEEDED
        states = {j.label: j.state for j in c.list() if j.label.startswith("r")}
    assert set(states) == {f"r{i}" for i in range(CONNECTIONS)}
    assert states.pop("r0") == jobs_pb2.JOB_STATE_SUCCEEDED
    assert set(states.values()) == {jobs_pb2.JOB_STATE_CANCELLED}


def test_forwarded_jobs_keep_codes_messages_and_the_token(tmp_path: Path) -> None:
    """A replica-mode server in this process, forwarding to a primary, so the
    forwarding path is taken on every call."""
    primary = LiveServer(tmp_path, token="s3cret", warm_up=False)
    replica = Server(
        ServerConfig(port=0, http_port=None, token="s3cret", warm_up=False),
        primary=primary.address,
    )
    primary.call(replica.start())
    address = f"127.0.0.1:{replica.grpc_port}"
    try:
        with Client(address, token="s3cret") as c:
            job = c.submit(place_pods_request(), label="via-replica")
            with Client(primary.address, token="s3cret") as direct:
                assert direct.job(job.job_id).label == "via-replica"
            with pytest.raises(grpc.RpcError) as exc:
                c.job("no-such-job")
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
            assert "no-such-job" in (exc.value.details() or "")
            bad = place_pods_request()
            bad.pods.snapshot.nodes[0].capacity.quantities["cpu_millis"] = -1
            with pytest.raises(grpc.RpcError) as exc:
                c.submit(bad)
            assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (exc.value.details() or "").startswith("spec.place_pods.pods.snapshot.nodes[0]")
        with Client(address) as anonymous, pytest.raises(grpc.RpcError) as exc:
            anonymous.job(job.job_id)
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        primary.call(replica.stop(0))
        primary.stop()


def test_a_dead_replica_is_started_again(tmp_path: Path) -> None:
    live = LiveServer(tmp_path, processes=2, warm_up=False)
    try:
        replicas = live.server.replicas
        assert replicas is not None
        first = replicas.replicas[1].process
        os.kill(first.pid or 0, signal.SIGKILL)
        wait_for(lambda: replicas.restarts == 1, "the replica to serve again", 90.0)
        assert replicas.replicas[1].process is not first
        place_through_own_connections(live.address)
        assert served_by_process(live).get("1", 0) > 0
    finally:
        live.stop()


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_replicas_stop_with_sigterm_and_when_the_primary_is_killed(tmp_path: Path) -> None:
    for how in (signal.SIGTERM, signal.SIGKILL):
        db = tmp_path / f"{how.name}.sqlite3"
        proc, _ = serve_subprocess(
            ["--no-http", "--processes", "2", "--no-warm-up", "--db", str(db), "--grace", "1"]
        )
        spawned = children(proc.pid)
        assert spawned, "no replica process"
        proc.send_signal(how)
        proc.wait(30)
        gone = lambda pids=spawned: not any(alive(p) for p in pids)  # noqa: E731
        wait_for(gone, f"replicas to stop after {how.name}", 90.0)
