"""Shared body of ``optsched solve mig|models|frequency``: read a JSON
problem, solve it (a named solver or the portfolio), validate, write JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from optsched import portfolio
from optsched.budget import Budget
from optsched.results import SolveResult
from optsched.validate import validate

DEFAULT_BUDGET_S = 10.0


def add_common(p: argparse.ArgumentParser, solvers: str) -> None:
    p.add_argument("input", help="problem JSON file ('-' for stdin)")
    p.add_argument("-o", "--output", default="-", help="answer JSON file (default: stdout)")
    p.add_argument("--solver", default=None, help=f"one solver ({solvers}); default: the portfolio")
    p.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help=f"time budget in seconds (default {DEFAULT_BUDGET_S:g})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="CP-SAT workers (default: all cores); with --solver only",
    )
    p.add_argument("--seed", type=int, default=None, help="CP-SAT random seed; with --solver only")


def read_json(path: str) -> Any:
    return json.load(sys.stdin) if path == "-" else json.loads(Path(path).read_text())


def solve_and_write(
    args: argparse.Namespace,
    problem: Any,
    answer: Callable[[SolveResult, Mapping[str, Any]], dict[str, Any]],
) -> int:
    config = {}
    if args.solver and args.solver.startswith("cpsat"):
        if args.workers is not None:
            config["num_workers"] = args.workers
        if args.seed is not None:
            config["random_seed"] = args.seed
    folio = portfolio.Portfolio(solver_config={args.solver: config} if config else {})
    result = folio.run(problem, Budget(args.budget_s), args.solver)
    report = validate(problem, result)
    out = answer(result, report.metrics)
    out["valid"] = report.ok
    text = json.dumps(out, indent=2, default=str)
    if args.output == "-":
        print(text)
    else:
        Path(args.output).write_text(text + "\n")
        print(
            f"{result.status} by {result.solver} in {result.wall_time_s:.3f}s; objective {result.objective}; {report.summary()}",
            file=sys.stderr,
        )
    return 0 if result.status.has_solution and report.ok else 1
