"""``optsched solve frequency TRACE.json``: MIAD clock decisions over
periods of latency samples (one period: the online decision).

Input::

  {"config": {"step_mhz": 100, "up_slack": 0.05, "down_margin": 0.05,
              "scale_out_after": 3, "period_s": 1.0, "sample_interval_s": 0.5,
              "down_after": 1, "slo_margin": 0.0},
   "gpus": [{"gpu_id": "g0", "clocks": {"min_mhz": 200, "max_mhz": 1380},
             "partitions": [{"partition_id": "bert", "slo_ms": 200, "weight": 0.8}],
             "periods": [{"bert": [120.0, 131.5]}, {"bert": [90.2]}],
             "start_mhz": 1380, "up_at_max_streak": 0, "down_streak": 0}]}

``config`` keys are optional (defaults shown); ``start_mhz`` defaults to
``clocks.default_mhz``, itself the maximum. Output: ``decisions`` per GPU
(one ``action``, ``clock_mhz``, ``scale_out`` per period), ``objective``
(mean clock), ``metrics``, ``valid``.
"""

from __future__ import annotations

import argparse

from optsched.commands._gpu_solve import add_common, read_json, solve_and_write
from optsched.problems.gpu_json import frequency_answer, frequency_problem


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, "miad")


def run(args: argparse.Namespace) -> int:
    return solve_and_write(args, frequency_problem(read_json(args.input)), frequency_answer)
