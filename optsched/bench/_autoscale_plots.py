"""Per-policy plot of the autoscale suite: active backends and SLA compliance
per window over time, one line per model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from optsched.bench.report import plot_path
from optsched.sim.metrics import ModelRun


def plot_policy(
    policy: str, models: list[Any], runs: list[ModelRun], cfg: Any, out_dir: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for m, r in zip(models, runs, strict=True):
        top.step(r.timeline_s / 60.0, r.timeline_backends, where="post", lw=0.8, label=m.name)
        centres = (np.arange(r.window_fraction.size) + 0.5) * cfg.window_s / 60.0
        bottom.plot(centres, 100 * r.window_fraction, marker=".", lw=0.6)
    bottom.axhline(99.0, color="k", ls="--", lw=0.8, label="SL_min 99 %")
    top.set_ylabel("active backends")
    top.set_title(f"{policy}: backends and SLA compliance per {cfg.window_s:.0f} s window")
    top.legend(fontsize=6, ncol=5, loc="upper left")
    bottom.set_ylabel("requests within RT_max (%)")
    bottom.set_xlabel("minutes")
    bottom.set_ylim(90, 100.5)
    bottom.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = plot_path("autoscale", policy.lower(), out_dir)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
