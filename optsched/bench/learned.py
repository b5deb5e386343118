"""``optsched bench learned``: the learned VM rescheduler against the exact
solver, greedy and LNS, side by side on the same instances.

Instances: held-out generated medium instances (seeds below
``TRAIN_SEED_BASE``, never used in training), the shipped medium snapshot and
the shipped large snapshot (a cluster size the policy was not trained on);
migration limits 10, 25 and 50.

For each instance and limit: the exact solver with ``--reference-budget``
gives the reference (see :func:`_shares` for the fallback when it proves no
optimum); then ``gnn-reschedule`` at K = 1, 8, 32 (``--quick``: 1, 8), each
twice: the policy alone (its best of K trajectories, "gnn K=8") and the
solver as served ("gnn K=8 recombined": the K trajectories recombined host
by host with the local search's plan among them, then priced with the
configuration bound, which proves it optimal or adds the priced plan; the
row's ``source`` says which candidate won and ``status`` whether the
bound proved it); the served solver at the ``--budgets`` (K from the
budget, "gnn 1 s"); the exact solver at the budget the largest-K
recombined plan took, greedy, LNS at 5 s, and the exact solver at 5 s
warm-started from that plan (what the portfolio runs after the policy when
time is left). Reported per run:
final fragment rate (the validator's), share of the optimal reduction
``(FR0 - FR) / (FR0 - FR_ref)``, the same share against the best plan any
solver found in the cell (``share_best``), wall time, moves; every plan is
validated.
Also: training cost from the shipped checkpoint's metadata and its learning
curve (``reports/learned-curve.png``).
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
from optsched.heap import settle_heap
from optsched.problems import VmRescheduling
from optsched.registry import load_builtin
from optsched.results import SolveResult
from optsched.solver import WarmStartSolver
from optsched.validate import validate

HELP = "learned rescheduler vs exact, greedy and LNS (FR, share of optimum, time per plan)"
SUITE = "learned"
LIMITS = (10, 25, 50)
K_VALUES = (1, 8, 32)
K_QUICK = (1, 8)
COLUMNS = (
    "instance",
    "mnl",
    "solver",
    "fr0",
    "fr",
    "share",
    "ref",
    "share_best",
    "time_s",
    "moves",
    "source",
    "status",
    "valid",
)
# the policy's own best-of-K plan, without recombination or local search
POLICY_ONLY = {"recombine": False, "local_search_share": 0.0, "temperature": 1.0}
BUDGETS = (1.0,)  # the learned solver at these budgets (K chosen from them)
WARM_BUDGET_S = 5.0  # LNS, and the exact solver warm-started from the learned plan
HELD_OUT_SEED = 0  # held-out generated instances use seeds from here (training starts at 10000)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--instances", type=int, default=10, help="held-out generated instances")
    p.add_argument("--reference-budget", type=float, default=60.0, help="exact solver, seconds")
    p.add_argument("--checkpoint", default=None, help="policy checkpoint (default: shipped)")
    p.add_argument("--limits", type=int, nargs="+", default=list(LIMITS))
    p.add_argument("--k", type=int, nargs="+", default=None, help="trajectories (default 1 8 32)")
    p.add_argument("--no-large", action="store_true", help="skip the large snapshot")
    p.add_argument(
        "--budgets",
        type=float,
        nargs="*",
        default=list(BUDGETS),
        help="also run the learned solver at these budgets (K from the budget)",
    )
    p.add_argument(
        "--fragment-rates",
        type=float,
        nargs="+",
        default=None,
        help="initial fragment rates of the held-out instances, each with --instances seeds "
        "(default: VMR2L's test average, 0.556)",
    )


def _instances(args: argparse.Namespace) -> list[tuple[str, Any]]:
    from optsched.datasets.rescheduling import VMR2L_TEST_FRAGMENT_RATE, training_instance
    from optsched.datasets.vmr2l import load_shipped

    medium = load_shipped("medium")
    count = 1 if args.quick else args.instances
    out: list[tuple[str, Any]] = []
    for rate in args.fragment_rates or [VMR2L_TEST_FRAGMENT_RATE]:
        tag = "" if rate == VMR2L_TEST_FRAGMENT_RATE else f"fr{rate:g}-"
        out += [
            (f"gen-medium-{tag}{s}", training_instance(medium, HELD_OUT_SEED + s, rate))
            for s in range(count)
        ]
    out.append(("medium", medium))
    if not args.no_large:
        out.append(("large", load_shipped("large")))
    return out


def _solve(
    name: str, problem: VmRescheduling, budget_s: float, warm: SolveResult | None, **config: Any
) -> SolveResult:
    solver = load_builtin().create(name, **config)
    if warm is None:
        return solver.solve(problem, Budget(budget_s))  # type: ignore[no-any-return]
    assert isinstance(solver, WarmStartSolver), name
    return solver.solve_from(problem, Budget(budget_s), warm)


def _row(problem: VmRescheduling, result: SolveResult) -> dict[str, Any]:
    report = validate(problem, result)
    if not result.status.has_solution or not report.ok:
        why = result.message if report.ok else report.summary(2)
        return {"status": str(result.status), "valid": report.ok, "message": why}
    return {
        "status": str(result.status),
        "valid": True,
        "fr": report.objective,
        "fr0": report.metrics["fragment_rate_initial"],
        "time_s": result.wall_time_s,
        "moves": report.metrics["moves"],
        "bound": result.best_bound,
        "source": result.stats.get("plan_source", ""),
    }


def _run(
    name: str,
    problem: VmRescheduling,
    budget_s: float,
    warm: SolveResult | None = None,
    **config: Any,
) -> dict[str, Any]:
    return _row(problem, _solve(name, problem, budget_s, warm, **config))


def _cell(args: argparse.Namespace, inst: str, snap: Any, limit: int) -> list[dict[str, Any]]:
    reg = load_builtin()
    problem = VmRescheduling(snap, migration_limit=limit)
    rows: list[dict[str, Any]] = []
    ref: dict[str, Any] = {}
    ref_budget = min(args.reference_budget, 10.0) if args.quick else args.reference_budget
    if names.CPSAT_RESCHEDULE in reg:
        ref = _run(names.CPSAT_RESCHEDULE, problem, ref_budget)
        rows.append({"solver": "exact (reference)", "budget_s": ref_budget, **ref})
    gnn_time, learned = 1.0, None
    for k in args.k or (K_QUICK if args.quick else K_VALUES):
        for label, config in (("", POLICY_ONLY), (" recombined", {})):
            res = _solve(
                names.GNN_RESCHEDULE,
                problem,
                600.0,
                None,
                k=k,
                checkpoint=args.checkpoint,
                **config,
            )
            r = _row(problem, res)
            rows.append({"solver": f"gnn K={k}{label}", "budget_s": None, **r})
            if "fr" in r and not config:
                gnn_time, learned = r["time_s"], res
    for budget in args.budgets:  # K and the local search's time from the budget
        res = _solve(names.GNN_RESCHEDULE, problem, budget, None, checkpoint=args.checkpoint)
        rows.append({"solver": f"gnn {budget:g} s", "budget_s": budget, **_row(problem, res)})
    if names.CPSAT_RESCHEDULE in reg:
        same = _run(names.CPSAT_RESCHEDULE, problem, max(gnn_time, 0.1))
        rows.append({"solver": "exact (largest-K time)", "budget_s": gnn_time, **same})
    for name, budget in ((names.GREEDY_RESCHEDULE, 60.0), (names.LNS_RESCHEDULE, WARM_BUDGET_S)):
        if name in reg:
            rows.append({"solver": name, "budget_s": budget, **_run(name, problem, budget)})
    if names.CPSAT_RESCHEDULE in reg and learned is not None:
        # what the portfolio does next with time left: exact, warm-started
        # from the largest-K plan (its time not counted here)
        warm = _run(names.CPSAT_RESCHEDULE, problem, WARM_BUDGET_S, warm=learned)
        rows.append({"solver": "exact from largest-K plan", "budget_s": WARM_BUDGET_S, **warm})
    _shares(rows, ref)
    return [{"instance": inst, "mnl": limit, **r} for r in rows]


def _shares(rows: list[dict[str, Any]], ref: dict[str, Any]) -> None:
    """Share of the optimal reduction ``(FR0 - FR) / (FR0 - FR_ref)``. The
    reference is the exact solver's proven optimum; failing that its best
    bound (the share is then a lower bound); failing that the best plan any
    solver found in this cell ("best-known": the share is an upper bound)."""
    found = [r["fr"] for r in rows if "fr" in r]
    if not found:
        return
    if ref.get("status") == "OPTIMAL":
        target, kind = ref["fr"], "optimum"
    elif ref.get("bound") is not None:
        target, kind = ref["bound"], "bound"
    else:
        target, kind = min(found), "best-known"
    best = min(found)
    for r in rows:
        if "fr" in r and r["fr0"] - target > 1e-12:
            r["share"] = (r["fr0"] - r["fr"]) / (r["fr0"] - target)
            r["ref"] = kind
        if "fr" in r:
            # against the best plan of the cell: how far from the best any
            # solver (the reference exact run included) reached
            r["share_best"] = (
                (r["fr0"] - r["fr"]) / (r["fr0"] - best) if r["fr0"] - best > 1e-12 else 1.0
            )


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        # generated instances group by their initial fragment rate (name
        # without the seed)
        inst = r["instance"]
        kind = (
            inst.rsplit("-", 1)[0].replace("gen-medium", "generated")
            if inst.startswith("gen-")
            else inst
        )
        groups[(kind, r["mnl"], r["solver"])].append(r)
    out = []
    for (kind, mnl, solver), rs in groups.items():
        ok = [r for r in rs if "fr" in r]
        shares = [r["share"] for r in ok if "share" in r]
        best = [r["share_best"] for r in ok if "share_best" in r]
        refs = sorted({r["ref"] for r in ok if "ref" in r})
        out.append(
            {
                "instances": kind,
                "mnl": mnl,
                "solver": solver,
                "n": len(rs),
                "fr0": statistics.mean(r["fr0"] for r in ok) if ok else float("nan"),
                "fr": statistics.mean(r["fr"] for r in ok) if ok else float("nan"),
                "share_opt": statistics.mean(shares) if shares else float("nan"),
                "ref": "/".join(refs),
                "share_best": statistics.mean(best) if best else float("nan"),
                "time_s": statistics.mean(r["time_s"] for r in ok) if ok else float("nan"),
                "moves": statistics.mean(r["moves"] for r in ok) if ok else float("nan"),
                "valid": all(r["valid"] for r in rs),
            }
        )
    return out


_TRAINING_KEYS = (
    "wall_s",
    "samples",
    "teacher_steps",
    "iterations",
    "bc_epochs",
    "eval_fragment_rate",
)


def _training(args: argparse.Namespace, out_dir: Path) -> dict[str, Any]:
    """Training cost of the checkpoint(s) benchmarked and the learning curve:
    with the shipped weights, the base policy (BC, then PPO) and the
    fine-tuned one (PPO from the base), one after the other in wall time."""
    from optsched.datasets.rescheduling import VMR2L_TEST_FRAGMENT_RATE
    from optsched.gnn import checkpoint

    stages = [("base", checkpoint.load(args.checkpoint)[1])]
    if args.checkpoint is None:
        fine = checkpoint.load(checkpoint.shipped_path(checkpoint.FRAGMENTED_NAME))[1]
        stages.append(("fine-tuned", fine))
    if any(meta.get("curve") for _, meta in stages):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        offset = 0.0
        for label, meta in stages:
            curve = meta.get("curve", [])
            minutes = [(offset + p["wall_s"]) / 60 for p in curve]
            ax.plot(minutes, [p["eval_fr"] for p in curve], marker="o", label=label)
            offset += float(meta.get("wall_s") or 0.0)
        ax.set_xlabel("training wall time (min, 2 CPU cores)")
        ax.set_ylabel("held-out fragment rate (MNL 50, K = 1)")
        ax.set_title("gnn-reschedule learning curve (BC, then PPO; then fine-tuning)")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(plot_path(SUITE, "curve", out_dir))
        plt.close(fig)
    out: dict[str, Any] = {}
    for label, meta in stages:
        args_of = meta.get("args", {})
        out[label] = {k: meta.get(k) for k in _TRAINING_KEYS} | {
            "teacher": args_of.get("teacher") if args_of.get("bc_epochs") else None,
            "fragment_rates": args_of.get("fragment_rates", [VMR2L_TEST_FRAGMENT_RATE]),
        }
    return out


def _loaded(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The instances, loaded with torch and the policies before anything is
    timed; then the heap is settled as the service and the CLI do
    (:func:`optsched.heap.settle_heap`)."""
    from optsched.solvers.learned_reschedule import LearnedReschedule

    LearnedReschedule(checkpoint=args.checkpoint).warm_up()
    instances = _instances(args)
    settle_heap()
    return instances


def run(args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    rows: list[dict[str, Any]] = []
    for inst, snap in _loaded(args):
        for limit in args.limits:
            cell = _cell(args, inst, snap, limit)
            rows += cell
            print(format_table(cell, COLUMNS))
    summary = _summary(rows)
    print("\n== summary (means per group)")
    print(format_table(summary))
    training = _training(args, out_dir)
    print("\n== training cost:", training)
    path = write_json(SUITE, {"rows": rows, "summary": summary, "training": training}, out_dir)
    print(f"wrote {path}")
    return 0 if all(r["valid"] for r in rows) else 1
