"""``optsched solve sizing INPUT [-o OUTPUT]``: size every model's backend pool.

INPUT is JSON::

    {"max_backends": 1000,
     "models": [{"name": "resnet", "arrival_rate_per_s": 120.0,
                 "service_times_ms": [41.2, 39.8, ...], "rt_max_ms": 200.0,
                 "sl_min": 0.99, "burst_factor": 2.0}]}

The answer (backends and predicted compliance per model) is validated
independently before it is written; an answer that fails validation is an
error, never output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from optsched.budget import Budget
from optsched.errors import DomainError, SolverError
from optsched.names import SWAYAM
from optsched.problems.sizing import DEFAULT_MAX_BACKENDS, BackendSizing, ModelSla
from optsched.registry import create
from optsched.validate import validate

MODEL_FIELDS = (
    "name",
    "arrival_rate_per_s",
    "service_times_ms",
    "rt_max_ms",
    "sl_min",
    "burst_factor",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="sizing problem JSON ('-' for stdin)")
    p.add_argument("-o", "--output", help="answer JSON (default: stdout)")
    p.add_argument("--solver", default=SWAYAM, help=f"solver name (default: {SWAYAM})")
    p.add_argument(
        "--budget", type=float, default=10.0, help="latency budget in seconds (default: 10)"
    )


def problem_from_json(doc: Any) -> BackendSizing:
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        raise DomainError("models", "the input must be an object with a 'models' list")
    models = []
    for k, m in enumerate(doc["models"]):
        if not isinstance(m, dict):
            raise DomainError(f"models[{k}]", "must be an object")
        unknown = sorted(set(m) - set(MODEL_FIELDS))
        if unknown:
            raise DomainError(f"models[{k}]", f"unknown fields {unknown}")
        for req in ("name", "arrival_rate_per_s", "service_times_ms", "rt_max_ms"):
            if req not in m:
                raise DomainError(f"models[{k}].{req}", "is required")
        if not isinstance(m["service_times_ms"], list):
            raise DomainError(f"models[{k}].service_times_ms", "must be a list of durations")
        models.append(ModelSla(**{**m, "service_times_ms": tuple(m["service_times_ms"])}))
    return BackendSizing(tuple(models), int(doc.get("max_backends", DEFAULT_MAX_BACKENDS)))


def run(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text()
    problem = problem_from_json(json.loads(text))
    result = create(args.solver).solve(problem, Budget(args.budget))
    report = validate(problem, result)
    if not report.ok:
        raise SolverError(f"{result.solver} returned an invalid answer: {report.summary()}")
    out = {
        "status": str(result.status),
        "solver": result.solver,
        "objective": result.objective,
        "solution": result.solution,
        "unplaced": [{"model": u.item_id, "reason": u.reason} for u in result.unplaced],
        "message": result.message,
        "wall_time_s": result.wall_time_s,
    }
    text_out = json.dumps(out, indent=2)
    if args.output:
        Path(args.output).write_text(text_out + "\n")
    else:
        print(text_out)
    return 0 if result.status.has_solution else 1
