"""``optsched bench miad``: GPU clock policies on one simulated V100.

Policies, on the same arrivals: always at the maximum clock (what serving
systems do by default, μ-Serve Sec. 6.2.1); the best static clock in
hindsight (the lowest clock whose whole-trace SLO attainment reaches 99%,
an oracle); MIAD with the paper's thresholds (0.05); MIAD with wider
thresholds (``--wide``, 0.3 by default). Traces: Poisson, and a bursty
two-state MMPP (or ``--trace FILE``: per-interval counts, e.g. an Azure
Functions per-minute column, scaled to the partitions' rates).

The GPU (Tesla V100: 200-1380 MHz, μ-Serve Sec. 6.4.1) serves three
partitions with Table 6.1's single-request latencies at the maximum clock
(ResNet-50 51 ms, BERT-base 123 ms, GPT2-large 832 ms), SLOs at 5x those
(AlpaServe's SLO scale), sensitivities 0.7 / 0.5 / 0.3 (assumed: convolution
is compute-bound, autoregressive decoding memory-bound), and calm rates at
30% utilisation each, bursts at 75%. Columns: SLO attainment, energy, mean
power, power saving against always-max, mean clock, scale-out signals.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from optsched.bench.report import format_table, plot_path, write_json
from optsched.problems.frequency import ClockRange, MiadConfig

HELP = "MIAD GPU clock control vs always-max and the best static clock: SLO attainment and energy"
V100_CLOCKS = ClockRange(200, 1380)
SLO_SCALE = 5.0
CALM_UTILISATION = 0.3
BURST_UTILISATION = 0.75
# (partition, single-request latency at max clock in ms (Table 6.1), sensitivity (assumed))
PARTITIONS = (("resnet50", 51.0, 0.7), ("bert-base", 123.0, 0.5), ("gpt2-large", 832.0, 0.3))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration-s", type=int, default=900, help="simulated seconds per trace (default 900)"
    )
    p.add_argument(
        "--wide", type=float, default=0.3, help="thresholds of the wide-margin MIAD variant"
    )
    p.add_argument(
        "--trace",
        default=None,
        help="per-interval request counts (one per line or CSV last column)",
    )
    p.add_argument(
        "--trace-interval-s",
        type=float,
        default=60.0,
        help="interval of --trace counts (default 60)",
    )
    p.add_argument("--seed", type=int, default=0)


def _traces(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    from optsched.solvers.miad.arrivals import (
        arrivals_from_counts,
        load_counts,
        mmpp_counts,
        poisson_arrivals,
    )

    d = args.duration_s
    out: dict[str, list[np.ndarray]] = {"poisson": [], "bursty": []}
    for _, svc_ms, _ in PARTITIONS:
        calm, burst = CALM_UTILISATION * 1000.0 / svc_ms, BURST_UTILISATION * 1000.0 / svc_ms
        out["poisson"].append(poisson_arrivals(calm, d, rng))
        out["bursty"].append(
            arrivals_from_counts(mmpp_counts(d, calm, burst, 60.0, 15.0, rng), 1.0, rng)
        )
    if args.trace:
        counts = np.asarray(load_counts(args.trace), dtype=float)
        horizon = int(min(d, len(counts) * args.trace_interval_s))
        counts = counts[: int(np.ceil(horizon / args.trace_interval_s))]
        out["trace"] = []
        for _, svc_ms, _ in PARTITIONS:
            per_s = counts / args.trace_interval_s
            scale = CALM_UTILISATION * 1000.0 / svc_ms / max(1e-9, float(per_s.mean()))
            out["trace"].append(
                arrivals_from_counts(list(counts), args.trace_interval_s, rng, scale)
            )
    return out


def run(args: argparse.Namespace) -> int:
    from optsched.solvers.miad.simulator import (
        FixedClockPolicy,
        MiadPolicy,
        SimPartition,
        simulate,
        static_best_clock,
    )

    duration = min(args.duration_s, 180) if args.quick else args.duration_s
    args.duration_s = duration
    rng = np.random.default_rng(args.seed)
    rows: list[dict[str, Any]] = []
    timelines: dict[str, Any] = {}
    paper, wide = MiadConfig(), MiadConfig(up_slack=args.wide, down_margin=args.wide)
    for trace, arrivals in _traces(args, rng).items():
        parts = [
            SimPartition(n, SLO_SCALE * svc, svc, s, a)
            for (n, svc, s), a in zip(PARTITIONS, arrivals, strict=True)
        ]
        slos = [p.slo() for p in parts]
        results = [
            simulate(
                parts,
                V100_CLOCKS,
                FixedClockPolicy(V100_CLOCKS.max_mhz, "always-max"),
                duration,
                paper,
            ),
            static_best_clock(parts, V100_CLOCKS, duration, paper),
            simulate(parts, V100_CLOCKS, MiadPolicy(slos, paper, "miad"), duration, paper),
            simulate(
                parts, V100_CLOCKS, MiadPolicy(slos, wide, f"miad-{args.wide:g}"), duration, wide
            ),
        ]
        base = results[0].energy_j
        for r in results:
            rows.append(
                {
                    "trace": trace,
                    "policy": r.policy,
                    "requests": r.requests,
                    "slo_attain_%": 100.0 * r.slo_attainment,
                    "energy_kJ": r.energy_j / 1000.0,
                    "mean_power_W": r.mean_power_w,
                    "saving_x": base / r.energy_j,
                    "mean_clock_MHz": r.mean_clock_mhz,
                    "scale_outs": r.scale_out_signals,
                }
            )
        if trace == "bursty":
            timelines = {r.policy: r for r in results}
    print(format_table(rows))
    out = Path(args.out)
    print(f"wrote {write_json('miad', {'rows': rows, 'args': vars(args)}, out)}")
    if timelines:
        _plot(timelines, out)
    return 0


def _plot(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_clock, ax_lat) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for name, r in results.items():
        ax_clock.plot(r.period_start_s, r.clock_mhz, label=name, lw=1)
    ax_clock.set(ylabel="SM clock (MHz)", title="bursty trace: clock and latency per policy")
    ax_clock.legend(fontsize=8, loc="lower right")
    for name in ("always-max", "miad"):
        r = results[name]
        worst = np.nanmax(
            np.vstack([r.latency_ms[p] / (SLO_SCALE * svc) for p, svc, _ in PARTITIONS]), axis=0
        )
        ax_lat.plot(r.period_start_s, worst, label=f"{name}: worst partition latency / SLO", lw=1)
    ax_lat.axhline(1.0, color="k", ls="--", lw=0.8)
    ax_lat.set(xlabel="time (s)", ylabel="latency / SLO")
    ax_lat.legend(fontsize=8)
    fig.tight_layout()
    path = plot_path("miad", "timeline", out)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")
