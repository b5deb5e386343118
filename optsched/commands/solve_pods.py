"""``optsched solve pods cluster.json``: place pending pods of a Kubernetes
cluster read from ``kubectl get nodes,pods -A -o json``; prints a dry-run
plan (evictions, moves, placements in an order that never overcommits a
node), the reasons for pods left pending, and the ``kubectl`` commands that
would carry the plan out."""

from __future__ import annotations

import argparse

from optsched.commands._placement_io import add_common, problem_options, report, solve
from optsched.problems import PodPlacement


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="kubectl get nodes,pods -A -o json output")
    add_common(p)


def run(args: argparse.Namespace) -> int:
    from optsched.datasets.kubectl import load_kubectl

    problem = PodPlacement(load_kubectl(args.input), **problem_options(args))
    return report(problem, solve(problem, args), args, kubectl=True)
