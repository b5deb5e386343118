"""μ-Serve's sensitivity-aware model partition placement, corrected.

Source: Qiu, "Cloud Systems Management with Efficient and Robust Online
Learning", UIUC dissertation 2024, Sec. 6.3.2 and Alg. 6.2 (μ-Serve, USENIX
ATC 2024). Partitions are taken in order of sensitivity, and each goes to the
feasible GPU whose current tenants' weighted mean sensitivity is closest to
its own, with each model on at most CT GPUs.

Corrections to the pseudo-code, each needed for it to run or to do what the
text says:

1. Inverted best-score comparison. Alg. 6.2 starts from ``bestScore =
   INFINITY`` and takes a device when ``bestScore < score``, which never
   holds, so no device is ever chosen. Here the score is the similarity
   ``-|s_p - mean_b|`` and the device with the *highest* score wins (ties:
   the earlier GPU).
2. Nothing fits. Alg. 6.2 then appends to ``bins[None]``. Here the
   partition's model is rolled back (a model serves only when all its
   partitions are placed) and reported unplaced with the reason.
3. CT counts devices. Alg. 6.2 increments ``modelBinsCount[model]`` once per
   *partition*, so a model with more partitions than CT is refused even on
   one GPU. Here the count is of distinct devices: a GPU already holding the
   model is always allowed; a new one only while the model is on fewer than
   CT GPUs.
4. Order and empty devices. The text sorts *all* partitions by sensitivity
   (Alg. 6.2 sorts within each model); here all, most sensitive first, so the
   sensitive ones set the clock of the GPUs they open. The similarity to an
   empty device is undefined in the paper; here an empty GPU scores
   ``-similarity_threshold``: a partition joins an occupied GPU whose mean
   is within the threshold of its own sensitivity, and otherwise opens a new
   GPU (or, with none left, joins the most similar occupied one). This is
   the grouping rule of the paper's operator clustering (Alg. 6.1, "similar
   sensitivity scores (below a threshold)"), applied to devices.
"""

from __future__ import annotations

import math
import time

from optsched import names
from optsched.budget import Budget
from optsched.errors import ConfigError
from optsched.problems.base import ProblemKind
from optsched.problems.gpu import ModelPlacement, ModelPlacementSolution
from optsched.registry import register
from optsched.results import SolveResult, Status, Unplaced
from optsched.solver import Capabilities, SolverKind

MEMORY_EPS_GB = 1e-9  # tolerance on memory sums of float sizes
# Alg. 6.1's THRES has no published value; sensitivity scores are normalised
# (Sec. 6.3.1), and 0.2 splits them into about five bands.
DEFAULT_SIMILARITY_THRESHOLD = 0.2


def _similarity(s: float, members: list[tuple[float, float]], threshold: float) -> float:
    """``-|s - weighted mean|``; ``-threshold`` for an empty GPU (correction 4)."""
    if not members:
        return -threshold
    mean = sum(w * x for x, w in members) / sum(w for _, w in members)
    return -abs(s - mean)


def greedy_placement(
    problem: ModelPlacement, threshold: float = DEFAULT_SIMILARITY_THRESHOLD
) -> tuple[dict[str, str], dict[str, str]]:
    """(partition id -> GPU id, model -> reason it is unplaced)."""
    free = {g.gpu_id: g.memory_gb for g in problem.gpus}
    members: dict[str, list[tuple[float, float]]] = {g.gpu_id: [] for g in problem.gpus}
    devices: dict[str, set[str]] = {}
    placement: dict[str, str] = {}
    failed: dict[str, str] = {}
    order = sorted(problem.partitions, key=lambda p: (-p.sensitivity, p.model, p.partition_id))
    for p in order:
        if p.model in failed:
            continue
        on = devices.setdefault(p.model, set())
        best, best_key = None, (-math.inf, False)
        for g in problem.gpus:
            if free[g.gpu_id] + MEMORY_EPS_GB < p.memory_gb:
                continue
            if g.gpu_id not in on and len(on) >= problem.max_devices_per_model:
                continue  # correction 3: CT counts devices
            key = (
                _similarity(p.sensitivity, members[g.gpu_id], threshold),
                bool(members[g.gpu_id]),
            )
            if (
                best is None or key > best_key
            ):  # correction 1: highest similarity wins (occupied on ties)
                best, best_key = g.gpu_id, key
        if best is None:  # correction 2: roll the model back
            failed[p.model] = (
                f"partition {p.partition_id} ({p.memory_gb:g} GB) fits on no GPU within the model's CT={problem.max_devices_per_model} devices"
            )
            for q in problem.partitions:
                gid = placement.pop(q.partition_id, None) if q.model == p.model else None
                if gid is not None:
                    free[gid] += q.memory_gb
                    members[gid].remove((q.sensitivity, q.weight))
            continue
        placement[p.partition_id] = best
        free[best] -= p.memory_gb
        members[best].append((p.sensitivity, p.weight))
        on.add(best)
    return placement, failed


def result_for(
    problem: ModelPlacement,
    solver: str,
    placement: dict[str, str],
    reasons: dict[str, str],
    status: Status,
    t0: float,
    **extra: object,
) -> SolveResult:
    top: dict[str, float] = {}
    sens = {p.partition_id: p.sensitivity for p in problem.partitions}
    for pid, gid in placement.items():
        top[gid] = max(top.get(gid, 0.0), sens[pid])
    unplaced = tuple(
        Unplaced(p.partition_id, reasons.get(p.model, f"model {p.model} not placed"))
        for p in problem.partitions
        if p.partition_id not in placement
    )
    return SolveResult(
        status,
        solver=solver,
        solution=ModelPlacementSolution(placement),
        objective=sum(top.values()),
        wall_time_s=time.perf_counter() - t0,
        unplaced=unplaced,
        stats={"placed": len(placement), "gpus_used": len(top)},
        **extra,  # type: ignore[arg-type]
    )


@register(names.SENSITIVITY_GREEDY, {ProblemKind.MODEL_PLACEMENT})
class SensitivityGreedy:
    name = names.SENSITIVITY_GREEDY
    capabilities = Capabilities(SolverKind.HEURISTIC, frozenset({ProblemKind.MODEL_PLACEMENT}))

    def __init__(self, similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        if not 0 <= similarity_threshold <= 1:
            raise ConfigError(f"similarity_threshold must be in [0, 1], got {similarity_threshold}")
        self.similarity_threshold = similarity_threshold

    def solve(self, problem: ModelPlacement, budget: Budget) -> SolveResult:
        del budget  # one pass
        t0 = time.perf_counter()
        placement, failed = greedy_placement(problem, self.similarity_threshold)
        return result_for(problem, self.name, placement, failed, Status.FEASIBLE, t0)
