"""``optsched solve models PROBLEM.json``: sensitivity-aware placement of
model partitions on GPUs (μ-Serve).

Input::

  {"gpus": [{"gpu_id": "g0", "memory_gb": 16}],
   "partitions": [{"partition_id": "bert/0", "model": "bert", "memory_gb": 1.4,
                   "sensitivity": 0.8, "weight": 1.0}],
   "max_devices_per_model": 2}

Output: ``status``, ``solver``, ``objective`` (sum over GPUs of the highest
sensitivity placed there), ``metrics``, ``placement`` (partition -> GPU),
``unplaced``, ``valid``.
"""

from __future__ import annotations

import argparse

from optsched.commands._gpu_solve import add_common, read_json, solve_and_write
from optsched.problems.gpu_json import models_answer, models_problem


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, "cpsat-sensitivity, sensitivity-greedy")


def run(args: argparse.Namespace) -> int:
    return solve_and_write(args, models_problem(read_json(args.input)), models_answer)
