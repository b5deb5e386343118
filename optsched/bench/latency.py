"""``optsched bench latency``: measure each solver's time to a first valid
answer against problem size, fit its latency model, and (with ``--write``)
store the models in ``optsched/data/latency_models.json`` for the portfolio.

Each solver runs with a minimal budget on generated instances of growing
size; for an anytime solver that is the time to build its model and return
its hint, i.e. the earliest it can answer. Instances:

* pod placement: ``datasets.generator.pod_cluster`` at 10 to 300 nodes;
* VM rescheduling: ``datasets.generator.vm_cluster`` at 20 to 300 hosts,
  MNL 25;
* MIG placement: ``bench.mig.make_instance`` at 10 to 1,000 GPUs.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import numpy as np

from optsched.bench.report import format_table, write_json
from optsched.budget import Budget
from optsched.latency import LatencyModel, fit, load_models, save_models
from optsched.problems.base import ProblemKind
from optsched.registry import load_builtin
from optsched.validate import validate

HELP = "fit each solver's latency model (time to first valid answer vs size)"
MIN_BUDGET_S = 0.05
SIZES: dict[ProblemKind, tuple[int, ...]] = {
    ProblemKind.POD_PLACEMENT: (10, 30, 100, 300),
    ProblemKind.VM_RESCHEDULING: (20, 60, 150, 300),
    ProblemKind.GPU_PARTITION_PLACEMENT: (10, 100, 1000),
}
QUICK_SIZES = 2


def _pods(n: int, seed: int) -> Any:
    from optsched.datasets.generator import PodClusterSpec, pod_cluster
    from optsched.problems import PodPlacement

    return PodPlacement(pod_cluster(PodClusterSpec(nodes=n, replicasets=max(4, n), seed=seed)))


def _reschedule(n: int, seed: int) -> Any:
    from optsched.datasets.generator import VmClusterSpec, vm_cluster
    from optsched.problems import VmRescheduling

    spec = VmClusterSpec(hosts=n, target_utilization=0.85, seed=seed)
    return VmRescheduling(vm_cluster(spec), migration_limit=25)


def _mig(n: int, seed: int) -> Any:
    from optsched.bench.mig import make_instance

    return make_instance(n, 0.8, np.random.default_rng(seed))


INSTANCES: dict[ProblemKind, Callable[[int, int], Any]] = {
    ProblemKind.POD_PLACEMENT: _pods,
    ProblemKind.VM_RESCHEDULING: _reschedule,
    ProblemKind.GPU_PARTITION_PLACEMENT: _mig,
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=2, help="instances per size (default 2)")
    p.add_argument(
        "--write", action="store_true", help="store the fitted models in the package data"
    )
    p.add_argument("--quick", action="store_true", help="the two smallest sizes only")


def _measure(kind: ProblemKind, sizes: tuple[int, ...], seeds: int) -> Iterator[dict[str, Any]]:
    registry = load_builtin()
    for size in sizes:
        for seed in range(seeds):
            problem = INSTANCES[kind](size, seed)
            for name in registry.names(kind):
                solver = registry.create(name)
                started = time.perf_counter()
                result = solver.solve(problem, Budget(MIN_BUDGET_S))
                seconds = time.perf_counter() - started
                ok = result.status.has_solution and validate(problem, result).ok
                yield {
                    "kind": kind.value,
                    "solver": name,
                    "size": problem.size(),
                    "seed": seed,
                    "seconds": seconds,
                    "valid": ok,
                }


def run(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for kind, sizes in SIZES.items():
        chosen = sizes[:QUICK_SIZES] if args.quick else sizes
        rows += list(_measure(kind, chosen, args.seeds))
    models: dict[str, LatencyModel] = {}
    for name in sorted({r["solver"] for r in rows}):
        samples = [(r["size"], r["seconds"]) for r in rows if r["solver"] == name and r["valid"]]
        if len({s for s, _ in samples}) >= 2:
            models[name] = fit(name, samples)
    summary = [
        {
            "solver": m.solver,
            "samples": m.samples,
            "coef_s": m.coef_s,
            "exponent": m.exponent,
            "floor_s": m.floor_s,
            "t(1e3)_s": m.predict(1000),
            "t(1e4)_s": m.predict(10000),
        }
        for m in models.values()
    ]
    print(format_table(rows, ["kind", "solver", "size", "seed", "seconds", "valid"]))
    print()
    print(format_table(summary))
    path = write_json("latency", {"runs": rows, "models": summary}, Path(args.out))
    print(f"\nwrote {path}")
    if args.write:
        target = Path(str(importlib_resources.files("optsched") / "data" / "latency_models.json"))
        merged = {**load_models(), **models}
        save_models(merged, target.resolve())
        print(f"wrote {target.resolve()}")
    return 0
