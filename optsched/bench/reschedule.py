"""``optsched bench reschedule``: greedy, exact CP-SAT and LNS side by side on
VM rescheduling.

Instances: the shipped medium and large VMR2L snapshots plus seeded
training-style re-placements of each (:mod:`optsched.datasets.rescheduling`,
fragment rate ~0.56 like the VMR2L test set). For every instance, MNL and
budget, every solver runs on the same problem and every plan goes through
the validator. Reported per (size, MNL, budget) and solver: mean final FR,
share of the optimal reduction ``(FR0 - FR) / (FR0 - FR_opt)`` over the
instances whose optimum some CP-SAT run proved, the reduction relative to
greedy's, mean moves, and for CP-SAT the proofs and mean time to proof.
Bounds: ``LB`` is the lower bound of :mod:`optsched.solvers.reschedule.bound`
computed once per instance and MNL outside the solvers (untimed; every
validated answer is checked against it, ``lb_ok``), ``<solver>_gap_LB`` the
mean ``(FR - LB) / FR``; per solver also the mean bound it reported itself
(``best_bound``, over the runs that report one: ``<solver>_bounded``), the
mean reported gap, and the answers proven optimal (``<solver>_proven``).
The plot shows mean FR against the budget, one line per solver and size.

The full grid (20 generated instances per size, MNL 10/25/50, budgets
1/5/30 s) takes hours on a 2-core machine; ``--instances``, ``--mnl`` and
``--budgets`` choose a part of it, ``--quick`` a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from optsched import names
from optsched.bench.report import format_table, plot_path, write_json
from optsched.budget import Budget
from optsched.problems.cluster import VmRescheduling
from optsched.validate import validate

HELP = "VM rescheduling: greedy vs exact CP-SAT vs LNS (VMR2L snapshots)"
SOLVERS = (names.GREEDY_RESCHEDULE, names.CPSAT_RESCHEDULE, names.LNS_RESCHEDULE)
SHORT = {
    names.GREEDY_RESCHEDULE: "greedy",
    names.CPSAT_RESCHEDULE: "cpsat",
    names.LNS_RESCHEDULE: "lns",
}
FULL_INSTANCES = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="medium,large", help="shipped snapshots to use")
    p.add_argument("--instances", type=int, default=FULL_INSTANCES, help="generated per size")
    p.add_argument("--mnl", default="10,25,50", help="migration limits")
    p.add_argument("--budgets", default="1,5,30", help="seconds per solve")
    p.add_argument("--seed", type=int, default=0, help="first generator seed")
    p.add_argument("--no-shipped", action="store_true", help="generated instances only")
    p.add_argument("--quick", action="store_true", help="1 generated instance, MNL 10, 1 s")


def _instances(args: argparse.Namespace) -> list[tuple[str, str, Any]]:
    from optsched.datasets.rescheduling import training_instance
    from optsched.datasets.vmr2l import load_shipped

    out = []
    n = 1 if args.quick else args.instances
    for size in args.sizes.split(","):
        base = load_shipped(size)
        if not args.no_shipped:
            out.append((size, f"{size}-shipped", base))
        out += [
            (size, f"{size}-gen{s}", training_instance(base, s))
            for s in range(args.seed, args.seed + n)
        ]
    return out


def _run_one(problem: VmRescheduling, solver: str, seconds: float) -> dict[str, Any]:
    from optsched.registry import create

    result = create(solver).solve(problem, Budget(seconds))
    report = validate(problem, result)
    return {
        "solver": SHORT[solver],
        "fr0": report.metrics.get("fragment_rate_initial"),
        "fr": report.objective,
        "valid": report.ok,
        "status": str(result.status),
        "bound": result.best_bound,
        "gap": result.gap,
        "moves": len(result.plan.moves) if result.plan else 0,
        "time_s": result.wall_time_s,
    }


def _runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    mnls = [10] if args.quick else [int(x) for x in args.mnl.split(",")]
    budgets = [1.0] if args.quick else [float(x) for x in args.budgets.split(",")]
    from optsched.solvers.reschedule.bound import remainder_bound
    from optsched.solvers.reschedule.state import RescheduleState

    runs = []
    for size, name, snap in _instances(args):
        for mnl in mnls:
            problem = VmRescheduling(snap, mnl)
            lb = remainder_bound(RescheduleState.from_problem(problem))
            lb_rate = None if lb is None else lb.rate
            if lb is not None:
                print(f"  {name} MNL {mnl}: LB {lb.rate:.4f} in {lb.seconds:.2f}s", flush=True)
            for budget in budgets:
                for solver in SOLVERS:
                    row = _run_one(problem, solver, budget)
                    row["lb"] = lb_rate
                    row["lb_ok"] = lb_rate is None or row["fr"] >= lb_rate - 1e-12
                    runs.append(
                        {"size": size, "instance": name, "mnl": mnl, "budget_s": budget, **row}
                    )
                    bound = "-" if row["bound"] is None else f"{row['bound']:.4f}"
                    print(
                        f"  {name} MNL {mnl} {budget:g}s {row['solver']}: FR {row['fr0']:.4f} -> {row['fr']:.4f} {row['status']} bound {bound} valid={row['valid']} lb_ok={row['lb_ok']}",
                        flush=True,
                    )
    return runs


def _optima(runs: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    return {(r["instance"], r["mnl"]): r["fr"] for r in runs if r["status"] == "OPTIMAL"}


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (size, MNL, budget) with the solvers side by side."""
    optima = _optima(runs)
    groups: dict[tuple[str, int, float], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[(r["size"], r["mnl"], r["budget_s"])].append(r)
    rows = []
    for (size, mnl, budget), rs in sorted(groups.items()):
        row: dict[str, Any] = {"size": size, "MNL": mnl, "budget_s": budget}
        row["n"] = len({r["instance"] for r in rs})
        row["FR0"] = statistics.mean(r["fr0"] for r in rs)
        by = {s: [r for r in rs if r["solver"] == s] for s in SHORT.values()}
        greedy_red = statistics.mean(r["fr0"] - r["fr"] for r in by["greedy"])
        for s, xs in by.items():
            row[f"{s}_FR"] = statistics.mean(r["fr"] for r in xs)
            row[f"{s}_moves"] = statistics.mean(r["moves"] for r in xs)
            red = statistics.mean(r["fr0"] - r["fr"] for r in xs)
            row[f"{s}/greedy_red"] = red / greedy_red if greedy_red > 0 else float("nan")
            shares = [
                (r["fr0"] - r["fr"]) / (r["fr0"] - optima[(r["instance"], mnl)])
                for r in xs
                if (r["instance"], mnl) in optima and r["fr0"] > optima[(r["instance"], mnl)]
            ]
            row[f"{s}_opt_share"] = statistics.mean(shares) if shares else "-"
            bounded = [r for r in xs if r["bound"] is not None]
            row[f"{s}_bounded"] = f"{len(bounded)}/{len(xs)}"
            row[f"{s}_bound"] = statistics.mean(r["bound"] for r in bounded) if bounded else "-"
            row[f"{s}_gap"] = statistics.mean(r["gap"] for r in bounded) if bounded else "-"
            row[f"{s}_proven"] = f"{sum(r['status'] == 'OPTIMAL' for r in xs)}/{len(xs)}"
            with_lb = [r for r in xs if r["lb"] is not None]
            row[f"{s}_gap_LB"] = (
                statistics.mean((r["fr"] - r["lb"]) / max(r["fr"], 1e-9) for r in with_lb)
                if with_lb
                else "-"
            )
        with_lb = [r for r in rs if r["lb"] is not None and r["solver"] == "greedy"]
        row["LB"] = statistics.mean(r["lb"] for r in with_lb) if with_lb else "-"
        row["lb_ok"] = all(r["lb_ok"] for r in rs)
        proofs = [r for r in by["cpsat"] if r["status"] == "OPTIMAL"]
        row["cpsat_proven"] = f"{len(proofs)}/{len(by['cpsat'])}"
        row["t_proof_s"] = statistics.mean(r["time_s"] for r in proofs) if proofs else "-"
        row["all_valid"] = all(r["valid"] for r in rs) and row["lb_ok"]
        rows.append(row)
    return rows


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for size in sorted({r["size"] for r in rows}):
        for s in SHORT.values():
            pts = defaultdict(list)
            for r in rows:
                if r["size"] == size:
                    pts[r["budget_s"]].append(r[f"{s}_FR"])
            xs = sorted(pts)
            ax.plot(xs, [statistics.mean(pts[x]) for x in xs], marker="o", label=f"{s} ({size})")
    ax.set_xscale("log")
    ax.set_xlabel("budget (s)")
    ax.set_ylabel("mean final fragment rate (all MNL)")
    ax.set_title("VM rescheduling: quality against time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    runs = _runs(args)
    rows = summarize(runs)
    cols = [
        "size",
        "MNL",
        "budget_s",
        "n",
        "FR0",
        "greedy_FR",
        "cpsat_FR",
        "lns_FR",
        "LB",
        "greedy_gap_LB",
        "cpsat_gap_LB",
        "lns_gap_LB",
        "cpsat_bounded",
        "cpsat_bound",
        "cpsat_gap",
        "lns_bounded",
        "lns_bound",
        "lns_gap",
        "greedy_proven",
        "cpsat_proven",
        "lns_proven",
        "t_proof_s",
        "cpsat/greedy_red",
        "lns/greedy_red",
        "greedy_opt_share",
        "cpsat_opt_share",
        "lns_opt_share",
        "greedy_moves",
        "cpsat_moves",
        "lns_moves",
        "lb_ok",
        "all_valid",
    ]
    print(format_table(rows, cols))
    out = Path(getattr(args, "out", "reports"))
    json_path = write_json(
        "reschedule",
        {
            "args": {k: v for k, v in vars(args).items() if not k.startswith("_")},
            "rows": rows,
            "runs": runs,
        },
        out,
    )
    png = plot_path("reschedule", "fr-vs-time", out)
    _plot(rows, png)
    print(f"wrote {json_path} and {png}")
    return 0 if all(r["all_valid"] for r in rows) else 1
