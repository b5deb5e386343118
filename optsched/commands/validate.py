"""``optsched validate PROBLEM SOLUTION``: check an answer with the
independent validator. PROBLEM is a solve request and SOLUTION its response,
both proto3 JSON (what the gRPC API and ``optsched client`` exchange).
Prints every violation; exit code 0 when valid, 1 otherwise."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "validate"
HELP = "check a solution (proto3 JSON response) against its problem (proto3 JSON request)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "problem",
        type=Path,
        help="request JSON (with pods, vms, reschedule, mig, models, sizing or frequency)",
    )
    p.add_argument("solution", type=Path, help="response JSON of that request")


def run(args: argparse.Namespace) -> int:
    from optsched.api.jsonio import parse_response, read_request
    from optsched.api.limits import Limits
    from optsched.validate import validate

    kind, request = read_request(args.problem)
    problem = kind.problem(request, Limits())
    response = parse_response(kind, args.solution.read_text(), str(args.solution))
    report = validate(problem, kind.result_from(response))
    for v in report.violations:
        where = ", ".join(
            f"{k}={getattr(v, k)}" for k in ("item_id", "node", "step") if getattr(v, k) is not None
        )
        print(f"{v.code}: {v.message}" + (f" ({where})" if where else ""))
    print(
        f"{'valid' if report.ok else 'INVALID'}: {len(report.violations)} violation(s); objective {report.objective}"
    )
    return 0 if report.ok else 1
