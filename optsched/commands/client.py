"""``optsched client``: talk to a running server.

    optsched client place REQUEST.json [-o RESPONSE.json]
    optsched client place --kubectl CLUSTER.json [--budget 5]
    optsched client job submit REQUEST.json [--label L] [--wait]
    optsched client job status|wait|cancel|result JOB_ID
    optsched client job list

Requests and responses are proto3 JSON; ``job wait`` shows a progress bar.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

NAME = "client"
HELP = "send requests and batch jobs to a running optsched server"
TOKEN_ENV = "OPTSCHED_TOKEN"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", default="127.0.0.1:50051", help="server address")
    p.add_argument("--ca", type=Path, help="CA certificate (PEM): use TLS")
    p.add_argument("--cert", type=Path, help="client certificate (PEM) for mutual TLS")
    p.add_argument("--key", type=Path, help="client private key (PEM) for mutual TLS")
    p.add_argument("--server-name", help="expected server name in its certificate")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    place = sub.add_parser("place", help="solve one request now (any solve request)")
    place.add_argument("request", type=Path, nargs="?", help="proto3 JSON solve request")
    place.add_argument(
        "--kubectl", type=Path, help="place the pending pods of kubectl get nodes,pods -A -o json"
    )
    place.add_argument("--budget", type=float, default=0.0, help="seconds (with --kubectl)")
    place.add_argument("-o", "--output", type=Path, help="response JSON (default: stdout)")
    job = sub.add_parser("job", help="batch jobs")
    jsub = job.add_subparsers(dest="job_verb", metavar="JOB_VERB", required=True)
    submit = jsub.add_parser("submit", help="submit a solve request as a job")
    submit.add_argument("request", type=Path)
    submit.add_argument("--label", default="")
    submit.add_argument("--wait", action="store_true", help="wait with a progress bar")
    for verb in ("status", "wait", "cancel", "result"):
        jp = jsub.add_parser(verb, help=f"{verb} a job")
        jp.add_argument("job_id")
        if verb == "result":
            jp.add_argument("-o", "--output", type=Path, help="response JSON (default: stdout)")
    jsub.add_parser("list", help="list jobs")


def _client(args: argparse.Namespace) -> Any:
    from optsched.api.client import Client

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path else None

    return Client(
        args.target,
        ca=read(args.ca),
        cert=read(args.cert),
        key=read(args.key),
        token=os.environ.get(TOKEN_ENV),
        server_name=args.server_name,
    )


def _place_request(args: argparse.Namespace) -> Any:
    from optsched.api.convert_problems import KINDS
    from optsched.api.jsonio import read_request
    from optsched.errors import ConfigError

    if args.kubectl:
        from optsched.datasets.kubectl import load_kubectl
        from optsched.problems import PodPlacement

        return KINDS["place_pods"].request_for(
            PodPlacement(load_kubectl(args.kubectl)), args.budget or None
        )
    if args.request is None:
        raise ConfigError("give a request file or --kubectl")
    return read_request(args.request)[1]


def _show(job: Any) -> None:
    from optsched.api.v1 import jobs_pb2

    state = jobs_pb2.JobState.Name(job.state).removeprefix("JOB_STATE_").lower()
    error = f"  {job.error}" if job.error else ""
    print(
        f"{job.job_id}  {job.kind:20s} {state:9s} {job.progress:5.0%}  attempts={job.attempts}  {job.label}{error}"
    )


def _wait(client: Any, job_id: str) -> Any:
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc=job_id[:8]) as bar:

        def update(job: Any) -> None:
            bar.update(round(job.progress * 100) - bar.n)

        return client.wait(job_id, on_progress=update)


def _job(client: Any, args: argparse.Namespace) -> int:
    from optsched.api.jsonio import read_request, write_message
    from optsched.api.v1 import jobs_pb2

    verb = args.job_verb
    if verb == "submit":
        job = client.submit(read_request(args.request)[1], label=args.label)
        job = _wait(client, job.job_id) if args.wait else job
    elif verb == "wait":
        job = _wait(client, args.job_id)
    elif verb == "status":
        job = client.job(args.job_id)
    elif verb == "cancel":
        job = client.cancel(args.job_id)
    elif verb == "result":
        write_message(client.result(args.job_id), args.output)
        return 0
    else:
        for j in client.list():
            _show(j)
        return 0
    _show(job)
    return 0 if job.state != jobs_pb2.JOB_STATE_FAILED else 1


def run(args: argparse.Namespace) -> int:
    import grpc

    from optsched.api.jsonio import write_message
    from optsched.errors import OptschedError

    with _client(args) as client:
        try:
            if args.verb == "place":
                write_message(client.solve(_place_request(args)), args.output)
                return 0
            return _job(client, args)
        except grpc.RpcError as exc:
            raise OptschedError(f"{exc.code().name}: {exc.details()}") from None
