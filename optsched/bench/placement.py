"""``optsched bench placement``: CP-SAT against kube-default (and FFD).

Part ``grid`` reproduces the Priority Matters grid (:mod:`.placement_scenarios`):
for each cell (nodes, pods per node, priority levels, utilization) it takes
seeds until ``--seeds`` of them leave pods pending under kube-default; the
cluster state kube-default reaches (its placements running, the rest
pending) is the problem CP-SAT gets, with moves and evictions allowed. Per
budget it reports the share of scenarios where CP-SAT places more
higher-priority pods (lexicographically, tier by tier), the share where it
proves kube-default's placement optimal, and the share never worse.

Part ``scale``: identical nodes with 10 pods per node, 5 % pending, the rest
running; time to the first feasible answer, to proven optimality (or the gap
at the budget), and pods placed by CP-SAT, kube-default and FFD.

Every answer goes through the validator; invalid answers are counted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections import defaultdict
from typing import Any

from optsched import names
from optsched.bench.placement_scenarios import priority_matters, scale
from optsched.bench.report import format_table, plot_path, write_json
from optsched.budget import Budget
from optsched.problems import PodPlacement
from optsched.registry import create
from optsched.results import SolveResult
from optsched.validate import validate

HELP = "pod placement: Priority Matters grid (CP-SAT vs kube-default) and a scale series"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a small grid and the 100-node scale point")
    p.add_argument("--part", choices=("grid", "scale", "both"), default="both")
    p.add_argument("--nodes", type=int, nargs="+", default=[4, 8, 16, 32])
    p.add_argument("--pods-per-node", type=int, nargs="+", default=[4, 8])
    p.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--utilization", type=float, nargs="+", default=[0.90, 0.95, 1.00, 1.05])
    p.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="scenarios per grid cell (seeds where kube leaves pods pending)",
    )
    p.add_argument("--max-tries", type=int, default=30, help="seeds tried per cell to find those")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    p.add_argument("--scale-nodes", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--scale-budget", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="CP-SAT workers")


def _quick(args: argparse.Namespace) -> None:
    args.nodes, args.pods_per_node, args.levels = [4, 8], [4], [2]
    args.utilization, args.seeds, args.budgets = [1.0, 1.05], 1, [0.1, 1.0]
    args.scale_nodes, args.scale_budget = [100], 2.0


def _checked(problem: PodPlacement, result: SolveResult) -> tuple[tuple[int, ...], bool]:
    """The result's per-tier placed counts (highest tier first) and whether
    the validator accepts it."""
    report = validate(problem, result)
    return tuple(result.stats.get("placed_by_tier", ())), report.ok


def _grid_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    cells = itertools.product(args.nodes, args.pods_per_node, args.levels, args.utilization)
    cases = []
    for n, ppn, lv, u in cells:
        found = 0
        for seed in range(args.max_tries):
            if found == args.seeds:
                break
            start = PodPlacement(priority_matters(seed, n, ppn, lv, u))
            kube = create(names.KUBE_DEFAULT).solve(start, Budget(60))
            if not kube.unplaced or kube.plan is None:
                continue
            found += 1
            state = start.snapshot.with_assignments(kube.plan.final_assignments(start.snapshot))
            cases.append(
                {
                    "nodes": n,
                    "ppn": ppn,
                    "levels": lv,
                    "util": u,
                    "seed": seed,
                    "problem": PodPlacement(state),
                    "kube": tuple(kube.stats["placed_by_tier"]),
                }
            )
    return cases


def run_grid(args: argparse.Namespace) -> dict[str, Any]:
    cases = _grid_cases(args)
    rows: list[dict[str, Any]] = []
    for case in cases:
        for b in args.budgets:
            solver = create(
                names.CPSAT_PLACEMENT, num_workers=args.workers, random_seed=case["seed"]
            )
            started = time.monotonic()
            result = solver.solve(case["problem"], Budget(b))
            wall = time.monotonic() - started
            got, ok = _checked(case["problem"], result)
            kube = case["kube"]
            rows.append(
                {
                    **{k: case[k] for k in ("nodes", "ppn", "levels", "util", "seed")},
                    "budget_s": b,
                    "wall_s": round(wall, 3),
                    "valid": ok,
                    "status": str(result.status),
                    "kube": list(kube),
                    "cpsat": list(got),
                    "improved": ok and got > kube,
                    "never_worse": ok and got >= kube,
                    "proven": bool(result.stats.get("level1_proven")),
                    "proves_kube_optimal": ok
                    and got == kube
                    and bool(result.stats.get("level1_proven")),
                    "extra_placed": sum(got) - sum(kube),
                }
            )
    summary = _grid_summary(rows, args.budgets)
    print(f"Priority Matters grid: {len(cases)} scenarios where kube-default leaves pods pending")
    print(format_table(summary))
    return {"grid_rows": rows, "grid_summary": summary}


def _grid_summary(rows: list[dict[str, Any]], budgets: list[float]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, float], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["nodes"], r["budget_s"])].append(r)
        groups[("all", r["budget_s"])].append(r)
    out = []
    for (n, b), rs in sorted(groups.items(), key=lambda kv: (str(kv[0][0]).zfill(4), kv[0][1])):
        k = len(rs)
        out.append(
            {
                "nodes": n,
                "budget_s": b,
                "scenarios": k,
                "improved_%": 100 * sum(r["improved"] for r in rs) / k,
                "proves_kube_opt_%": 100 * sum(r["proves_kube_optimal"] for r in rs) / k,
                "never_worse_%": 100 * sum(r["never_worse"] for r in rs) / k,
                "level1_proven_%": 100 * sum(r["proven"] for r in rs) / k,
                "extra_pods_mean": sum(r["extra_placed"] for r in rs) / k,
                "wall_s_mean": sum(r["wall_s"] for r in rs) / k,
                "invalid": sum(not r["valid"] for r in rs),
            }
        )
    return out


def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for n in args.scale_nodes:
        problem = PodPlacement(scale(0, n))
        pending = len(problem.snapshot.pending)
        row: dict[str, Any] = {"nodes": n, "pods": len(problem.snapshot.items), "pending": pending}
        for name in (names.KUBE_DEFAULT, names.FIRST_FIT_DECREASING):
            r = create(name).solve(problem, Budget(args.scale_budget))
            got, ok = _checked(problem, r)
            row[f"{name}_placed_new"] = sum(got) - (len(problem.snapshot.items) - pending)
            row[f"{name}_s"] = round(r.wall_time_s, 2)
            row[f"{name}_valid"] = ok
        solver = create(names.CPSAT_PLACEMENT, num_workers=args.workers, random_seed=0)
        r = solver.solve(problem, Budget(args.scale_budget))
        got, ok = _checked(problem, r)
        st = r.stats
        row.update(
            {
                "cpsat_placed_new": sum(got) - (len(problem.snapshot.items) - pending),
                "cpsat_status": str(r.status),
                "cpsat_valid": ok,
                "cpsat_s": round(r.wall_time_s, 2),
                "baselines_s": round(st.get("baselines_s", 0.0), 2),
                "build_s": round(st.get("build_s", 0.0), 2),
                "first_feasible_s": round(
                    st.get("first_solution_s", st.get("baselines_s", 0.0)), 2
                ),
                "optimal_s": round(r.wall_time_s, 2) if str(r.status) == "OPTIMAL" else None,
                "gap": None if r.gap is None else round(r.gap, 4),
                "level1_proven": st.get("level1_proven"),
                "lossless": st.get("lossless"),
                "count_vars": st.get("count_variables"),
                "moves": st.get("moves"),
                "evictions": st.get("evictions"),
            }
        )
        base = max(row[f"{names.KUBE_DEFAULT}_placed_new"], 1)
        row["cpsat_vs_kube"] = round(row["cpsat_placed_new"] / base, 3)
        rows.append(row)
        print(f"  scale {n} nodes done in {r.wall_time_s:.1f}s", flush=True)
    print(f"Scale series (budget {args.scale_budget}s, pods placed among the pending ones):")
    print(format_table(rows))
    return {"scale_rows": rows}


def _plot(payload: dict[str, Any], out: Any) -> str | None:
    summary = [r for r in payload.get("grid_summary", []) if r["nodes"] != "all"]
    if not summary:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in (
        (axes[0], "improved_%", "CP-SAT places more high-priority pods"),
        (axes[1], "proves_kube_opt_%", "CP-SAT proves kube-default optimal"),
    ):
        for b in sorted({r["budget_s"] for r in summary}):
            rs = [r for r in summary if r["budget_s"] == b]
            ax.plot([r["nodes"] for r in rs], [r[key] for r in rs], marker="o", label=f"{b:g} s")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("nodes")
        ax.set_title(title, fontsize=10)
        ax.legend(title="budget")
    axes[0].set_ylabel("% of scenarios")
    path = plot_path("placement", "grid", out)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.quick:
        _quick(args)
    payload: dict[str, Any] = {
        "args": {k: v for k, v in vars(args).items() if not k.startswith("_")}
    }
    if args.part in ("grid", "both"):
        payload.update(run_grid(args))
    if args.part in ("scale", "both"):
        payload.update(run_scale(args))
    out = Path(args.out)
    plot = _plot(payload, out)
    path = write_json("placement", payload, out)
    print(f"wrote {path}" + (f" and {plot}" if plot else ""))
    invalid = sum(not r["valid"] for r in payload.get("grid_rows", []))
    invalid += sum(not r["cpsat_valid"] for r in payload.get("scale_rows", []))
    return 1 if invalid else 0
