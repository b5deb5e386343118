"""``optsched solve mig PROBLEM.json``: MIG partition placement.

Input::

  {"gpus": [{"gpu_id": "g0", "model": "A100-40GB",
             "instances": [{"instance_id": "i0", "profile": "3g.20gb",
                            "start_slice": 0, "busy": true}]}],
   "requests": [{"request_id": "r0", "profile": "1g.5gb", "priority": 1, "tenant": "a"},
                {"request_id": "r1", "min_memory_gb": 12, "min_compute_slices": 2}]}

GPU models and profiles: ``optsched/data/mig_profiles.json``. A request
gives ``profile`` or a minimum (``min_memory_gb``, ``min_compute_slices``).

Output: ``status``, ``solver``, ``objective`` (requests placed), ``metrics``
(the validator's: placed by priority, GPUs used, reconfigured busy GPUs,
idle instances destroyed), ``plans`` (per GPU: ``destroy`` ids first, then
``create`` in order with exact start slices, then ``assignments`` request ->
instance), ``unplaced`` (id and reason), ``valid``.
"""

from __future__ import annotations

import argparse

from optsched.commands._gpu_solve import add_common, read_json, solve_and_write
from optsched.problems.gpu_json import mig_answer, mig_problem


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p, "cpsat-mig, greedy-mig")


def run(args: argparse.Namespace) -> int:
    return solve_and_write(args, mig_problem(read_json(args.input)), mig_answer)
