"""Shared output for benchmark suites: an aligned text table, JSON, plots."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPORTS_DIR = Path("reports")


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
        return str(v)

    cells = [[cell(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def write_json(suite: str, payload: Mapping[str, Any], out_dir: Path | None = None) -> Path:
    out = out_dir or REPORTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{suite}.json"
    meta = {
        "suite": suite,
        "created_unix": time.time(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    path.write_text(json.dumps({"meta": meta, **payload}, indent=2, default=str))
    return path


def plot_path(suite: str, name: str, out_dir: Path | None = None) -> Path:
    out = out_dir or REPORTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{suite}-{name}.png"
