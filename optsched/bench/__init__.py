"""Benchmark suites for ``optsched bench SUITE``.

A suite is a module here with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. It compares solvers side by side on the same instances
in one run, prints a table with ratios and absolute figures, and writes JSON
(and a PNG where a curve says more) under ``reports/`` via
:mod:`optsched.bench.report`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def suites() -> dict[str, ModuleType]:
    out: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "report":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "run"):
            out[info.name] = mod
    return out
