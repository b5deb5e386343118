"""``optsched bench placement``: CP-SAT against kube-default emulation and
first-/best-fit-decreasing, side by side.

Part ``grid`` reproduces the Priority Matters grid (:mod:`.placement_scenarios`):
for each cell (nodes, pods per node, priority levels, utilization) it takes
seeds until ``--seeds`` of them leave pods pending under kube-default (every
pod starts pending, in creation order, the scheduler's queue). On that queue
kube-default, FFD and BFD each give their answer; CP-SAT gets the cluster
state kube-default reaches (its placements running, the rest pending) with
moves and evictions allowed, as a rescheduler called when the default
scheduler gives up would. Per scenario and budget it records pods placed per
priority tier for every solver, CP-SAT's evictions, moves, wall and build
time, status, gap and whether level 1 is proven. Tables: per (nodes, budget)
the share of scenarios where CP-SAT places lexicographically more (tier by
tier from the top) than each baseline, proves kube-default's answer optimal,
is never worse, and the placed ratios; per priority tier (1 = highest) the
pods placed by each solver summed over the scenarios.

Part ``scale``: identical nodes with 10 pods per node (1,000 nodes: 10,000
pods), 5 % pending, the rest running first-fit in a random order; per solver
the pods placed per tier among the pending ones and time, and for CP-SAT the
baselines' time, the model build time, time to the first feasible answer,
status, gap, evictions, moves and the ratio against kube-default.

Every answer goes through the validator; invalid answers are counted and
make the command fail.
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

HELP = "pod placement: CP-SAT vs kube-default vs FFD/BFD (Priority Matters grid, 10^4-pod scale)"

BASELINES = (names.KUBE_DEFAULT, names.FIRST_FIT_DECREASING, names.BEST_FIT_DECREASING)
SHORT = {
    names.KUBE_DEFAULT: "kube",
    names.FIRST_FIT_DECREASING: "ffd",
    names.BEST_FIT_DECREASING: "bfd",
}


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


def _solved(problem: PodPlacement, result: SolveResult, wall: float) -> dict[str, Any]:
    """What the tables need from one answer, with the validator's verdict."""
    st = result.stats
    return {
        "placed": list(st.get("placed_by_tier", ())),
        "evictions": int(st.get("evictions", 0)),
        "moves": int(st.get("moves", 0)),
        "wall_s": round(wall, 3),
        "status": str(result.status),
        "valid": validate(problem, result).ok,
    }


def _run(name: str, problem: PodPlacement, budget_s: float, **options: Any) -> dict[str, Any]:
    started = time.monotonic()
    result = create(name, **options).solve(problem, Budget(budget_s))
    out = _solved(problem, result, time.monotonic() - started)
    if name == names.CPSAT_PLACEMENT:
        st = result.stats
        out.update(
            build_s=round(float(st.get("build_s", 0.0)), 3),
            baselines_s=round(float(st.get("baselines_s", 0.0)), 3),
            first_feasible_s=round(
                float(st.get("first_solution_s", st.get("baselines_s", 0.0))), 3
            ),
            gap=None if result.gap is None else round(result.gap, 4),
            level1_proven=bool(st.get("level1_proven")),
            lossless=st.get("lossless"),
            count_vars=st.get("count_variables"),
            source=st.get("source"),
        )
    return out


def _warm_up() -> None:
    """Import and first-call costs are not any scenario's time."""
    problem = PodPlacement(priority_matters(0, 2, 2, 1, 1.0))
    for name in (*BASELINES, names.CPSAT_PLACEMENT):
        create(name).solve(problem, Budget(1.0))


def _grid_cases(args: argparse.Namespace) -> list[dict[str, Any]]:
    cells = itertools.product(args.nodes, args.pods_per_node, args.levels, args.utilization)
    cases = []
    for n, ppn, lv, u in cells:
        found = 0
        for seed in range(args.max_tries):
            if found == args.seeds:
                break
            start = PodPlacement(priority_matters(seed, n, ppn, lv, u))
            started = time.monotonic()
            kube = create(names.KUBE_DEFAULT).solve(start, Budget(60))
            kube_wall = time.monotonic() - started
            if not kube.unplaced or kube.plan is None:
                continue
            found += 1
            state = start.snapshot.with_assignments(kube.plan.final_assignments(start.snapshot))
            counts = [
                sum(it.priority == p for it in start.snapshot.items) for p in kube.stats["tiers"]
            ]
            cases.append(
                {
                    "nodes": n,
                    "ppn": ppn,
                    "levels": lv,
                    "util": u,
                    "seed": seed,
                    "start": start,
                    "problem": PodPlacement(state),
                    "tier_sizes": counts,
                    "kube": _solved(start, kube, kube_wall),
                }
            )
    return cases


def _beats(a: list[int], b: list[int]) -> bool:
    """Lexicographically more pods placed, tier by tier from the top."""
    return tuple(a) > tuple(b)


def run_grid(args: argparse.Namespace) -> dict[str, Any]:
    cases = _grid_cases(args)
    rows: list[dict[str, Any]] = []
    for k, case in enumerate(cases):
        print(
            f"  scenario {k + 1}/{len(cases)}: {case['nodes']} nodes, {case['ppn']} pods/node,"
            f" {case['levels']} levels, utilization {case['util']}, seed {case['seed']}",
            flush=True,
        )
        base = {SHORT[names.KUBE_DEFAULT]: case["kube"]}
        for name in BASELINES[1:]:
            base[SHORT[name]] = _run(name, case["start"], 60.0)
        sizes = case["tier_sizes"]
        kube = base["kube"]["placed"]
        for b in args.budgets:
            cp = _run(
                names.CPSAT_PLACEMENT,
                case["problem"],
                b,
                num_workers=args.workers,
                random_seed=case["seed"],
            )
            got = cp["placed"]
            valid = cp["valid"] and all(r["valid"] for r in base.values())
            rows.append(
                {
                    **{k: case[k] for k in ("nodes", "ppn", "levels", "util", "seed")},
                    "budget_s": b,
                    "tier_sizes": sizes,
                    **{f"{k}_placed": r["placed"] for k, r in base.items()},
                    **{f"{k}_s": r["wall_s"] for k, r in base.items()},
                    "cpsat_placed": got,
                    "cpsat": cp,
                    "valid": valid,
                    # the default scheduler left a pod of a tier above the lowest pending
                    "kube_high_pending": any(
                        p < s for p, s in zip(kube[:-1], sizes[:-1], strict=True)
                    ),
                    "improved": valid and _beats(got, kube),
                    "never_worse": valid and tuple(got) >= tuple(kube),
                    "beats_ffd": valid and _beats(got, base["ffd"]["placed"]),
                    "beats_bfd": valid and _beats(got, base["bfd"]["placed"]),
                    "proves_kube_optimal": valid and got == kube and cp["level1_proven"],
                }
            )
    summary = _grid_summary(rows)
    tiers = _tier_table(rows, args.budgets)
    n_high = sum(r["kube_high_pending"] for r in rows) // max(1, len(args.budgets))
    print(
        f"Priority Matters grid: {len(cases)} scenarios where kube-default leaves pods pending"
        f" ({n_high} with a pod above the lowest tier pending)"
    )
    print(format_table(summary))
    print("Pods placed per priority tier (1 = highest), summed over the scenarios:")
    print(format_table(tiers))
    return {"grid_rows": rows, "grid_summary": summary, "grid_tiers": tiers}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _grid_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, float], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["nodes"], r["budget_s"])].append(r)
        groups[("all", r["budget_s"])].append(r)
    out = []
    for (n, b), rs in sorted(groups.items(), key=lambda kv: (str(kv[0][0]).zfill(4), kv[0][1])):
        k = len(rs)
        cps = [r["cpsat"] for r in rs]
        total = {
            key: sum(sum(r[f"{key}_placed"]) for r in rs) for key in ("cpsat", "kube", "ffd", "bfd")
        }
        top = {key: sum(r[f"{key}_placed"][0] for r in rs) for key in ("cpsat", "kube")}
        gaps = [c["gap"] for c in cps if c["gap"] is not None]
        out.append(
            {
                "nodes": n,
                "budget_s": b,
                "scenarios": k,
                "improved_vs_kube_%": 100 * sum(r["improved"] for r in rs) / k,
                "never_worse_%": 100 * sum(r["never_worse"] for r in rs) / k,
                "beats_ffd_%": 100 * sum(r["beats_ffd"] for r in rs) / k,
                "beats_bfd_%": 100 * sum(r["beats_bfd"] for r in rs) / k,
                "proves_kube_opt_%": 100 * sum(r["proves_kube_optimal"] for r in rs) / k,
                "level1_proven_%": 100 * sum(c["level1_proven"] for c in cps) / k,
                "placed_vs_kube": _ratio(total["cpsat"], total["kube"]),
                "placed_vs_ffd": _ratio(total["cpsat"], total["ffd"]),
                "placed_vs_bfd": _ratio(total["cpsat"], total["bfd"]),
                "top_tier_vs_kube": _ratio(top["cpsat"], top["kube"]),
                "evictions_mean": sum(c["evictions"] for c in cps) / k,
                "moves_mean": sum(c["moves"] for c in cps) / k,
                "gap_mean": sum(gaps) / len(gaps) if gaps else None,
                "cpsat_s_mean": sum(c["wall_s"] for c in cps) / k,
                "build_s_mean": sum(c["build_s"] for c in cps) / k,
                "kube_s_mean": sum(r["kube_s"] for r in rs) / k,
                "ffd_s_mean": sum(r["ffd_s"] for r in rs) / k,
                "invalid": sum(not r["valid"] for r in rs),
            }
        )
    return out


def _tier_table(rows: list[dict[str, Any]], budgets: list[float]) -> list[dict[str, Any]]:
    """Per tier rank from the top: pods, and pods placed by each solver (the
    baselines once per scenario, CP-SAT per budget)."""
    first = [r for r in rows if r["budget_s"] == budgets[0]]
    depth = max((len(r["tier_sizes"]) for r in rows), default=0)
    out = []
    for t in range(depth):
        has = [r for r in first if len(r["tier_sizes"]) > t]
        row: dict[str, Any] = {
            "tier": t + 1,
            "scenarios": len(has),
            "pods": sum(r["tier_sizes"][t] for r in has),
        }
        for key in ("kube", "ffd", "bfd"):
            row[key] = sum(r[f"{key}_placed"][t] for r in has)
        for b in budgets:
            rs = [r for r in rows if r["budget_s"] == b and len(r["tier_sizes"]) > t]
            row[f"cpsat@{b:g}s"] = sum(r["cpsat_placed"][t] for r in rs)
        row["cpsat/kube"] = _ratio(row[f"cpsat@{budgets[-1]:g}s"], row["kube"])
        out.append(row)
    return out


def run_scale(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for n in args.scale_nodes:
        problem = PodPlacement(scale(0, n))
        snap = problem.snapshot
        pending = len(snap.pending)
        row: dict[str, Any] = {"nodes": n, "pods": len(snap.items), "pending": pending}
        results = {}
        for name in BASELINES:
            results[SHORT[name]] = _run(name, problem, args.scale_budget)
        results["cpsat"] = _run(
            names.CPSAT_PLACEMENT,
            problem,
            args.scale_budget,
            num_workers=args.workers,
            random_seed=0,
        )
        running = len(snap.items) - pending
        for key, r in results.items():
            row[f"{key}_placed_new"] = sum(r["placed"]) - running
            row[f"{key}_top_tier"] = r["placed"][0] if r["placed"] else None
            row[f"{key}_evictions"] = r["evictions"]
            row[f"{key}_s"] = r["wall_s"]
            row[f"{key}_valid"] = r["valid"]
        cp = results["cpsat"]
        row.update(
            {
                "cpsat_status": cp["status"],
                "cpsat_moves": cp["moves"],
                "baselines_s": cp["baselines_s"],
                "build_s": cp["build_s"],
                "first_feasible_s": cp["first_feasible_s"],
                "gap": cp["gap"],
                "level1_proven": cp["level1_proven"],
                "lossless": cp["lossless"],
                "count_vars": cp["count_vars"],
                "source": cp["source"],
                "new_vs_kube": _ratio(row["cpsat_placed_new"], row["kube_placed_new"]),
                "new_vs_bfd": _ratio(row["cpsat_placed_new"], row["bfd_placed_new"]),
                "placed_by_tier": {k: r["placed"] for k, r in results.items()},
            }
        )
        rows.append(row)
        print(f"  scale {n} nodes done: CP-SAT {cp['wall_s']:.1f}s", flush=True)
    print(
        f"Scale series (budget {args.scale_budget}s; placed_new: pods placed less pods evicted, net of the running ones):"
    )
    cols = [
        "nodes", "pods", "pending",
        "kube_placed_new", "ffd_placed_new", "bfd_placed_new", "cpsat_placed_new",
        "new_vs_kube", "kube_evictions", "cpsat_evictions", "cpsat_moves",
        "kube_s", "ffd_s", "bfd_s", "baselines_s", "build_s", "first_feasible_s", "cpsat_s",
        "cpsat_status", "gap", "level1_proven", "lossless", "count_vars",
    ]  # fmt: skip
    print(format_table(rows, cols))
    print("Pods placed per tier (highest first), running ones included:")
    print(
        format_table(
            [{"nodes": r["nodes"], **r["placed_by_tier"]} for r in rows],
        )
    )
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
        (axes[0], "improved_vs_kube_%", "CP-SAT places more high-priority pods than kube"),
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
    _warm_up()
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
    invalid += sum(
        not all(r[f"{k}_valid"] for k in ("kube", "ffd", "bfd", "cpsat"))
        for r in payload.get("scale_rows", [])
    )
    return 1 if invalid else 0
