"""``optsched bench mig``: MIG placement, CP-SAT against greedy first fit.

Instances: ``N`` GPUs (40% A100-40GB, 40% A100-80GB, 20% H100-80GB); 30% of
them already carry one of five common layouts (all-1g, 2g x3 + 1g, 3g x2,
4g + 2g + 1g, 7g; the shapes operators configure with NVIDIA's mig-parted),
each instance busy with probability 0.6. A mixed request stream: half by
profile name, half by minimum memory/compute, priorities 0/1/2 at
60/30/10%, sized to ``load`` x the free memory slices. Per solver: requests
placed, GPUs used against the lower bound ceil(memory slices in use / 8),
busy GPUs reconfigured, time; ratios against greedy. Every answer goes
through the validator.

CP-SAT scales by aggregation (see :mod:`optsched.solvers.mig_cpsat`): GPUs
with identical (model, instances, busy flags) form one group with integer
count variables per candidate final layout, and requests with the same
(profile or minimum, priority) one class with a count per GPU model, so the
model's size depends on the number of distinct groups and classes, not on
the number of GPUs or requests.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from optsched.bench.report import format_table, plot_path, write_json
from optsched.budget import Budget
from optsched.model.cluster import Gpu, MigInstance
from optsched.model.mig import load_catalog
from optsched.problems.gpu import GpuPartitionPlacement, MigRequest
from optsched.validate import validate

HELP = "MIG partition placement: CP-SAT (aggregated) vs greedy first fit at 100 to 10,000 GPUs"
MODEL_MIX = (("A100-40GB", 0.4), ("A100-80GB", 0.4), ("H100-80GB", 0.2))
PRELOADED_SHARE = 0.3
BUSY_PROBABILITY = 0.6
# Layouts as (profile index in catalog order, start): the catalog order is
# 1g, 1g+me, 1g double-memory, 2g, 3g, 4g, 7g for every model.
COMMON_LAYOUTS = (
    tuple((0, s) for s in range(7)),
    ((3, 0), (3, 2), (3, 4), (0, 6)),
    ((4, 0), (4, 4)),
    ((5, 0), (3, 4), (0, 6)),
    ((6, 0),),
)
MIN_MEMORY_GB = (4, 8, 10, 15, 20, 30, 40, 60)
PRIORITIES = ((0, 0.6), (1, 0.3), (2, 0.1))


def make_instance(n_gpus: int, load: float, rng: np.random.Generator) -> GpuPartitionPlacement:
    catalog = load_catalog()
    models = rng.choice([m for m, _ in MODEL_MIX], size=n_gpus, p=[w for _, w in MODEL_MIX])
    gpus, free_slices = [], 0
    for k, model in enumerate(models):
        spec = catalog[str(model)]
        insts: tuple[MigInstance, ...] = ()
        if rng.random() < PRELOADED_SHARE:
            layout = COMMON_LAYOUTS[rng.integers(len(COMMON_LAYOUTS))]
            insts = tuple(
                MigInstance(
                    f"g{k}-i{j}", spec.profiles[p].name, s, bool(rng.random() < BUSY_PROBABILITY)
                )
                for j, (p, s) in enumerate(layout)
            )
        busy = sum(
            spec.profiles[[q.name for q in spec.profiles].index(i.profile)].memory_slices
            for i in insts
            if i.busy
        )
        free_slices += spec.memory_slices - busy
        gpus.append(Gpu(f"g{k}", str(model), insts))
    reqs, demand, j = [], 0, 0
    while demand < load * free_slices:
        prio = int(rng.choice([p for p, _ in PRIORITIES], p=[w for _, w in PRIORITIES]))
        spec = catalog[str(rng.choice([m for m, _ in MODEL_MIX]))]
        if rng.random() < 0.5:
            prof = spec.profiles[
                int(rng.choice([0, 2, 3, 4, 5, 6], p=[0.3, 0.15, 0.25, 0.15, 0.1, 0.05]))
            ]
            reqs.append(MigRequest(f"r{j}", profile=prof.name, priority=prio, tenant=f"t{j % 7}"))
            demand += prof.memory_slices
        else:
            mem = float(rng.choice(MIN_MEMORY_GB))
            reqs.append(
                MigRequest(
                    f"r{j}",
                    min_memory_gb=mem,
                    min_compute_slices=int(rng.integers(0, 3)),
                    priority=prio,
                    tenant=f"t{j % 7}",
                )
            )
            fit = spec.smallest_fitting(mem, 0)
            demand += fit.memory_slices if fit else 8
        j += 1
    return GpuPartitionPlacement(tuple(gpus), tuple(reqs))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default="100,1000,10000", help="GPU counts (comma-separated)")
    p.add_argument(
        "--loads", default="0.8,1.2", help="request demand / free memory slices (comma-separated)"
    )
    p.add_argument(
        "--budget-s", type=float, default=60.0, help="CP-SAT time budget per instance (default 60)"
    )
    p.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: all cores)")
    p.add_argument("--seed", type=int, default=0)


def _row(
    pb: GpuPartitionPlacement, name: str, budget_s: float, workers: int | None
) -> dict[str, Any]:
    from optsched.registry import create

    solver = create(name, num_workers=workers) if name.startswith("cpsat") else create(name)
    res = solver.solve(pb, Budget(budget_s))
    rep = validate(pb, res)
    if not rep.ok:
        raise AssertionError(f"{name} returned an invalid answer: {rep.summary()}")
    m = rep.metrics
    lb = math.ceil(m["memory_slices_used"] / 8)
    return {
        "gpus": len(pb.gpus),
        "requests": len(pb.requests),
        "solver": name,
        "status": str(res.status),
        "placed": m["placed"],
        "placed_top_prio": list(m["placed_by_priority"].values())[0],
        "gpus_used": m["gpus_used"],
        "lower_bound": lb,
        "used/lb": m["gpus_used"] / max(1, lb),
        "busy_reconf": m["reconfigured_busy_gpus"],
        "time_s": res.wall_time_s,
    }


def run(args: argparse.Namespace) -> int:
    sizes = [
        int(s)
        for s in ("50,200" if args.quick and args.sizes == "100,1000,10000" else args.sizes).split(
            ","
        )
    ]
    loads = [float(x) for x in args.loads.split(",")]
    budget = min(args.budget_s, 10.0) if args.quick else args.budget_s
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for load in loads:
            pb = make_instance(n, load, np.random.default_rng(args.seed + n))
            g = _row(pb, "greedy-mig", budget, args.workers)
            c = _row(pb, "cpsat-mig", budget, args.workers)
            c["placed_x"] = c["placed"] / max(1, g["placed"])
            c["gpus_x"] = c["gpus_used"] / max(1, g["gpus_used"])
            c["time_x"] = c["time_s"] / max(1e-9, g["time_s"])
            for r in (g, c):
                r["load"] = load
            rows += [g, c]
            print(
                f"  {n} GPUs, load {load}: greedy {g['placed']} placed on {g['gpus_used']}, cpsat {c['placed']} on {c['gpus_used']} ({c['time_s']:.1f}s)",
                flush=True,
            )
    cols = [
        "gpus",
        "load",
        "requests",
        "solver",
        "status",
        "placed",
        "placed_top_prio",
        "gpus_used",
        "lower_bound",
        "used/lb",
        "busy_reconf",
        "time_s",
        "placed_x",
        "gpus_x",
        "time_x",
    ]
    print(format_table(rows, cols))
    out = Path(args.out)
    print(
        f"wrote {write_json('mig', {'rows': rows, 'args': vars(args) | {'sizes': sizes, 'loads': loads}}, out)}"
    )
    _plot(rows, out)
    return 0


def _plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for solver, style in (("greedy-mig", "o--"), ("cpsat-mig", "s-")):
        for load in sorted({r["load"] for r in rows}):
            sel = [r for r in rows if r["solver"] == solver and r["load"] == load]
            xs = [r["gpus"] for r in sel]
            axes[0].plot(xs, [r["time_s"] for r in sel], style, label=f"{solver} load {load}")
            axes[1].plot(xs, [r["used/lb"] for r in sel], style, label=f"{solver} load {load}")
    axes[0].set(xscale="log", yscale="log", xlabel="GPUs", ylabel="time (s)", title="solve time")
    axes[1].set(
        xscale="log",
        xlabel="GPUs",
        ylabel="GPUs used / lower bound",
        title="GPUs used vs ceil(slices / 8)",
    )
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path = plot_path("mig", "scaling", out)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
