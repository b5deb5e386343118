"""``optsched bench autoscale``: Swayam against ClairA1, ClairA2, Kubernetes
HPA and a static peak pool on 15 models (Swayam's setup; see
``_autoscale_setup``), all replayed on the same requests in one run.

Per model and policy it reports backend-seconds relative to ClairA1 (the
workload's size) and the share of SLA windows met; per policy the totals;
and the analytical model's predicted compliance against the simulator's.
Writes ``reports/autoscale.json`` and one PNG per policy (backends and
compliance over time).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from optsched.bench.report import format_table, write_json

HELP = "Swayam vs ClairA1/ClairA2/HPA/static on 15 models: backend-seconds and SLA windows met"
POLICIES = ("ClairA1", "ClairA2", "Swayam", "HPA", "Static")
TARGET_WINDOWS_MET = 0.96  # Swayam: "meeting the SLAs over 96 % of the time"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", type=int, default=15)
    p.add_argument(
        "--duration-min", type=int, default=60, help="trace minutes replayed (quick: 10)"
    )
    p.add_argument(
        "--start-minute", type=int, default=8 * 60, help="first minute of the day replayed"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--trace", help="Azure Functions 2019 invocations CSV (default: the seeded generator)"
    )
    p.add_argument(
        "--max-rate-per-s", type=float, default=100.0, help="cap on a model's mean request rate"
    )
    p.add_argument("--min-load", type=float, default=2.0, help="lowest mean offered load (Erlangs)")
    p.add_argument(
        "--max-load", type=float, default=20.0, help="highest mean offered load (Erlangs)"
    )
    p.add_argument("--provisioning-delay-s", type=float, default=5.0)
    p.add_argument(
        "--idle-timeout-s", type=float, default=10.0, help="lazy scale-in (Swayam, ClairA2)"
    )
    p.add_argument(
        "--burst-u", type=float, default=2.0, help="burst threshold U (Swayam, static peak)"
    )
    p.add_argument(
        "--burst-mode",
        choices=("in-use", "warm-ahead"),
        default="in-use",
        help="Swayam's U: in-use pool at U x L, or in use n(L) with a warm reserve to n(U x L)",
    )
    p.add_argument(
        "--ablation",
        action="store_true",
        help="also run Swayam with the other burst mode, without the largest-of-F rate "
        "correction, and with U = 1 (no burst margin)",
    )
    p.add_argument("--hpa-target", type=float, default=0.5, help="HPA target utilization")
    p.add_argument("--window-s", type=float, default=60.0, help="SLA compliance window")
    p.add_argument(
        "--check-requests", type=int, default=60000, help="requests per model-vs-simulator point"
    )


def _config(args: argparse.Namespace) -> Any:
    from optsched.bench._autoscale_setup import SuiteConfig

    quick = bool(getattr(args, "quick", False))
    return SuiteConfig(
        models=args.models,
        duration_min=10 if quick else args.duration_min,
        start_minute=args.start_minute,
        seed=args.seed,
        max_rate_per_s=args.max_rate_per_s,
        load_range_erlangs=(args.min_load, args.max_load),
        provisioning_delay_s=args.provisioning_delay_s,
        idle_timeout_s=args.idle_timeout_s,
        hpa_target=args.hpa_target,
        window_s=args.window_s,
        trace=args.trace,
        burst_u=args.burst_u,
        burst_mode=args.burst_mode,
        ablation=args.ablation,
    )


def _model_rows(models: list[Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for m, r in zip(models, runs, strict=True):
        base = r["ClairA1"].backend_seconds
        row: dict[str, Any] = {
            "model": m.name,
            "load": round(m.offered_load, 2),
            "ClairA1_bs": round(base),
        }
        for p in POLICIES[1:]:
            row[f"{p}_x"] = r[p].backend_seconds / base
        for p in POLICIES[1:]:
            row[f"{p}_win%"] = 100 * r[p].windows_met
        rows.append(row)
    return rows


def _policy_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    total_base = sum(r["ClairA1"].backend_seconds for r in runs)
    total_swayam = sum(r["Swayam"].backend_seconds for r in runs)
    for p in POLICIES:
        bs = sum(r[p].backend_seconds for r in runs)
        met = [r[p].windows_met for r in runs]
        rows.append(
            {
                "policy": p,
                "backend_s": round(bs),
                "vs_ClairA1": bs / total_base,
                "vs_Swayam": bs / total_swayam,
                "min_win%": 100 * min(met),
                "mean_win%": 100 * float(np.mean(met)),
                "models>=96%": f"{sum(x >= TARGET_WINDOWS_MET for x in met)}/{len(met)}",
                "req_within%": 100 * float(np.mean([r[p].requests_within for r in runs])),
            }
        )
    return rows


def _ablation_rows(runs: list[dict[str, Any]], labels: list[str]) -> list[dict[str, Any]]:
    """Swayam variants beside the baselines: totals relative to ClairA1,
    ClairA2 and HPA, and whether each meets the issue's target."""

    def total(p: str) -> float:
        return sum(r[p].backend_seconds for r in runs)

    a1, a2, hpa = total("ClairA1"), total("ClairA2"), total("HPA")
    rows = []
    for p in labels:
        met = [r[p].windows_met for r in runs]
        sla = min(met) >= TARGET_WINDOWS_MET
        rows.append(
            {
                "policy": p,
                "vs_ClairA1": total(p) / a1,
                "vs_ClairA2": total(p) / a2,
                "vs_HPA": total(p) / hpa,
                "min_win%": 100 * min(met),
                "models>=96%": f"{sum(x >= TARGET_WINDOWS_MET for x in met)}/{len(met)}",
                "target": "yes" if sla and total(p) < min(a2, hpa) else "no",
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    from optsched.bench._autoscale_plots import plot_policy
    from optsched.bench._autoscale_setup import (
        build_models,
        model_vs_simulation,
        run_policies,
        swayam_variants,
    )

    cfg = _config(args)
    out_dir = Path(getattr(args, "out", "reports"))
    t0 = time.monotonic()
    models = build_models(cfg)
    runs = [run_policies(m, cfg) for m in models]
    sim_s = time.monotonic() - t0
    model_rows, policy_rows = _model_rows(models, runs), _policy_rows(runs)
    check = model_vs_simulation(
        cfg.seed, args.check_requests // (4 if getattr(args, "quick", False) else 1)
    )
    print(
        f"{len(models)} models, {cfg.duration_min} min, {sum(len(m.workload.arrivals_s) for m in models)} requests, "
        f"{sim_s:.1f} s simulated"
    )
    print("\nPer model: backend-seconds relative to ClairA1 (_x) and SLA windows met (_win%)")
    print(format_table(model_rows))
    print("\nPer policy (all models)")
    print(format_table(policy_rows))
    variants = list(swayam_variants(cfg)) if cfg.ablation else []
    ablation = _ablation_rows(runs, ["Swayam", *variants, *POLICIES[1:2], *POLICIES[3:]])
    print(
        f"\nAblation: Swayam (U = {cfg.burst_u:g}, {cfg.burst_mode}) and variants beside the"
        " baselines; target: every model >= 96 % of windows and fewer backend-seconds"
        " than ClairA2 and HPA"
    )
    print(format_table(ablation))
    print("\nResponse-time model vs simulator: P(R <= RT_max) with a fixed pool")
    print(format_table(check))
    plots = [str(plot_policy(p, models, [r[p] for r in runs], cfg, out_dir)) for p in POLICIES]
    payload = {
        "config": cfg.__dict__,
        "models": model_rows,
        "policies": policy_rows,
        "ablation": ablation,
        "model_vs_simulator": check,
        "windows": {
            p: {m.name: r[p].window_fraction.tolist() for m, r in zip(models, runs, strict=True)}
            for p in POLICIES
        },
        "plots": plots,
    }
    path = write_json("autoscale", payload, out_dir)
    print(f"\nwrote {path} and {len(plots)} plots")
    return 0
