"""``optsched solve reschedule SNAPSHOT.json``: VM rescheduling with a
migration limit, read from a VMR2L JSON snapshot.

Prints the moves in their executable order and the fragment rate before and
after (as the independent validator recomputes it); ``-o plan.json`` writes
``status``, ``solver``, ``fragment_rate_before``/``after``, ``best_bound``,
``gap``, ``valid`` and ``moves`` (``vm``, ``from``/``to`` with ``host`` and
``numa``). Nothing is changed in any cluster.

Without ``--solver`` the portfolio chooses by the budget, as the service
does: the learned policy first where its latency model fits the budget,
then CP-SAT warm-started from the best answer so far. Every answer, named
solver or not, passes the validator before it is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from optsched import names
from optsched.budget import Budget
from optsched.errors import DomainError
from optsched.problems.cluster import VmRescheduling
from optsched.results import SolveResult
from optsched.validate import validate

SOLVERS = (
    names.CPSAT_RESCHEDULE,
    names.LNS_RESCHEDULE,
    names.GREEDY_RESCHEDULE,
    names.GNN_RESCHEDULE,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="VMR2L snapshot JSON (cluster_list[...])")
    p.add_argument("--mnl", type=int, default=50, help="migration number limit (default 50)")
    p.add_argument("--budget", type=float, default=5.0, help="seconds (default 5)")
    p.add_argument(
        "--solver", choices=SOLVERS, help="one solver by name (default: the portfolio's choice)"
    )
    p.add_argument("--fragment-cores", type=int, default=16, help="fragment size F (default 16)")
    p.add_argument("--exclude", action="append", default=[], help="host never a destination")
    p.add_argument("--memory-aware", action="store_true", help="memory-aware fragment rate")
    p.add_argument("-o", "--output", help="write the plan as JSON here")


def _assignment(a: Any) -> dict[str, Any]:
    return {"host": a.node, "numa": list(a.numa)}


def answer(problem: VmRescheduling, result: SolveResult) -> dict[str, Any]:
    """The JSON answer: the plan and the validator's figures."""
    report = validate(problem, result)
    moves = result.plan.moves if result.plan else []
    return {
        "status": str(result.status),
        "solver": result.solver,
        "fragment_rate_before": report.metrics.get("fragment_rate_initial"),
        "fragment_rate_after": report.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "wall_time_s": result.wall_time_s,
        "valid": report.ok,
        "violations": report.summary() if not report.ok else "",
        "message": result.message,
        "moves": [
            {"vm": a.item_id, "from": _assignment(a.source), "to": _assignment(a.target)}
            for a in moves
        ],
    }


def run(args: argparse.Namespace) -> int:
    from optsched.datasets.vmr2l import load_vmr2l
    from optsched.portfolio import run as run_portfolio

    if args.mnl < 0:
        raise DomainError("--mnl", "must not be negative")
    problem = VmRescheduling(
        load_vmr2l(Path(args.input)),
        args.mnl,
        fragment_cores=args.fragment_cores,
        excluded_hosts=frozenset(args.exclude),
        memory_aware=args.memory_aware,
    )
    result = run_portfolio(problem, Budget(args.budget), args.solver)
    out = answer(problem, result)
    for i, m in enumerate(out["moves"], 1):
        print(
            f"{i:3d}. {m['vm']}: {m['from']['host']}{m['from']['numa']} -> {m['to']['host']}{m['to']['numa']}"
        )
    print(
        f"{out['status']} by {out['solver']} in {out['wall_time_s']:.2f} s: fragment rate "
        f"{out['fragment_rate_before']:.4f} -> {out['fragment_rate_after']:.4f} "
        f"({len(out['moves'])} moves, bound {out['best_bound']}, valid {out['valid']})"
    )
    if result.message:
        print(result.message)
    if args.output:
        Path(args.output).write_text(json.dumps(out, indent=2))
    return 0 if out["valid"] else 1
