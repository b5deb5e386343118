"""Latency models: each solver's measured running time as a function of
problem size, used by the portfolio to choose solvers that fit a budget.

A model is a power law with a floor, ``t(size) = floor_s + coef_s * size **
exponent``, fitted by least squares in log-log space to (size, seconds)
samples from the project's own benchmark runs. For anytime solvers the time
is that to a first valid answer. Fitted models are data, shipped in
``optsched/data/latency_models.json`` and refitted with
``optsched latency fit REPORT.json ...``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import numpy as np

from optsched.errors import ConfigError

MODELS_FILE = "latency_models.json"
MIN_SAMPLES = 2


@dataclass(frozen=True)
class LatencyModel:
    solver: str
    coef_s: float
    exponent: float
    floor_s: float = 0.0
    samples: int = 0

    def predict(self, size: int) -> float:
        return self.floor_s + self.coef_s * max(size, 1) ** self.exponent


def fit(solver: str, samples: Iterable[tuple[int, float]]) -> LatencyModel:
    """Least-squares fit of ``log t = log c + b log size`` over positive
    samples; the floor is the smallest observed time's tenth (start-up
    costs that do not grow with size)."""
    pts = [(float(s), float(t)) for s, t in samples if s > 0 and t > 0]
    if len(pts) < MIN_SAMPLES:
        raise ConfigError(
            f"latency model for {solver!r} needs at least {MIN_SAMPLES} samples, got {len(pts)}"
        )
    x = np.log([p[0] for p in pts])
    y = np.log([p[1] for p in pts])
    if np.ptp(x) == 0:
        b, log_c = 0.0, float(y.mean())
    else:
        b, log_c = (float(v) for v in np.polyfit(x, y, 1))
    if b < 0:  # running time does not shrink with size: noise; refit a constant
        b, log_c = 0.0, float(y.mean())
    floor = min(p[1] for p in pts) / 10
    return LatencyModel(solver, coef_s=math.exp(log_c), exponent=b, floor_s=floor, samples=len(pts))


def load_models(path: str | Path | None = None) -> dict[str, LatencyModel]:
    """The shipped models (or those in ``path``), by solver name."""
    if path is None:
        ref = importlib_resources.files("optsched") / "data" / MODELS_FILE
        if not ref.is_file():
            return {}
        text = ref.read_text()
    else:
        text = Path(path).read_text()
    raw: Mapping[str, Any] = json.loads(text)
    return {name: LatencyModel(**m) for name, m in raw.get("models", {}).items()}


def save_models(models: Mapping[str, LatencyModel], path: str | Path) -> None:
    payload = {"models": {name: asdict(m) for name, m in sorted(models.items())}}
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
