"""μ-Serve model placement: the corrected heuristic, CP-SAT, the validator."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.budget import Budget
from optsched.problems.gpu import GpuDevice, ModelPartition, ModelPlacement, ModelPlacementSolution
from optsched.registry import create
from optsched.results import SolveResult, Status
from optsched.solvers.sensitivity_greedy import greedy_placement
from optsched.validate import validate


def solve(name: str, pb: ModelPlacement) -> tuple[SolveResult, dict]:
    solver = (
        create(name, num_workers=1, random_seed=0) if name.startswith("cpsat") else create(name)
    )
    res = solver.solve(pb, Budget(20))
    rep = validate(pb, res)
    assert rep.ok, rep.summary()
    assert abs((res.objective or 0.0) - (rep.objective or 0.0)) < 1e-9
    return res, rep.metrics


def part(pid: str, model: str, mem: float, s: float) -> ModelPartition:
    return ModelPartition(pid, model, mem, s)


def test_most_similar_gpu_wins() -> None:
    """Correction 1: the highest similarity is chosen (the paper's
    ``bestScore < score`` from INFINITY never chooses anything)."""
    gpus = (GpuDevice("hot", 16), GpuDevice("cold", 16))
    pb = ModelPlacement(
        gpus,
        (
            part("a", "A", 4, 0.9),
            part("b", "B", 13, 0.1),
            part("c", "C", 2, 0.85),
            part("d", "D", 2, 0.15),
        ),
        1,
    )
    placement, failed = greedy_placement(pb)
    assert not failed
    assert placement["a"] == placement["c"] and placement["b"] == placement["d"] != placement["a"]


def test_nothing_fits_rolls_the_model_back() -> None:
    """Correction 2: no ``bins[None]``; the whole model is left unplaced."""
    pb = ModelPlacement(
        (GpuDevice("g", 10),),
        (part("m0", "M", 6, 0.5), part("m1", "M", 6, 0.4), part("x", "X", 3, 0.45)),
        2,
    )
    res, m = solve("sensitivity-greedy", pb)
    assert res.solution.placement == {"x": "g"}
    assert {u.item_id for u in res.unplaced} == {"m0", "m1"} and "CT=2" in res.unplaced[0].reason


def test_ct_counts_devices_not_partitions() -> None:
    """Correction 3: three partitions of one model on one GPU with CT = 1."""
    pb = ModelPlacement(
        (GpuDevice("g0", 16), GpuDevice("g1", 16)),
        tuple(part(f"p{i}", "M", 4, 0.5) for i in range(3)),
        1,
    )
    placement, failed = greedy_placement(pb)
    assert not failed and set(placement.values()) == {"g0"}


def test_ct_limit_is_enforced() -> None:
    pb = ModelPlacement(
        (GpuDevice("g0", 8), GpuDevice("g1", 8)),
        (part("p0", "M", 6, 0.5), part("p1", "M", 6, 0.5)),
        1,
    )
    for name in ("sensitivity-greedy", "cpsat-sensitivity"):
        res, m = solve(name, pb)
        assert m["placed"] == 0
    bad = SolveResult(
        Status.FEASIBLE, "x", solution=ModelPlacementSolution({"p0": "g0", "p1": "g1"})
    )
    assert "max_devices" in validate(pb, bad).codes()


def test_validator_catches_memory_and_partial_models() -> None:
    pb = ModelPlacement((GpuDevice("g", 8),), (part("a", "A", 6, 0.5), part("b", "A", 6, 0.5)), 2)
    over = SolveResult(Status.FEASIBLE, "x", solution=ModelPlacementSolution({"a": "g", "b": "g"}))
    half = SolveResult(Status.FEASIBLE, "x", solution=ModelPlacementSolution({"a": "g"}))
    assert "memory" in validate(pb, over).codes()
    assert {"partial_model", "unplaced_reason"} <= validate(pb, half).codes()


def test_cpsat_separates_sensitive_from_insensitive() -> None:
    gpus = tuple(GpuDevice(f"g{i}", 16) for i in range(3))
    parts = (
        part("s1", "S", 8, 0.9),
        part("s2", "T", 8, 0.8),
        part("i1", "I", 8, 0.1),
        part("i2", "J", 8, 0.2),
    )
    res, m = solve("cpsat-sensitivity", ModelPlacement(gpus, parts, 1))
    assert res.status is Status.OPTIMAL
    assert abs(m["sum_max_sensitivity"] - 1.1) < 1e-9


def brute_force(pb: ModelPlacement) -> tuple[int, float]:
    """Best (placed, -sum of max sensitivity) over every assignment."""
    best = (0, 0.0)
    opts = [None, *[g.gpu_id for g in pb.gpus]]
    for combo in itertools.product(opts, repeat=len(pb.partitions)):
        sol = {
            p.partition_id: g for p, g in zip(pb.partitions, combo, strict=True) if g is not None
        }
        res = SolveResult(Status.FEASIBLE, "bf", solution=ModelPlacementSolution(sol))
        rep = validate(pb, res)
        if set(rep.codes()) <= {"unplaced_reason"}:
            best = max(best, (len(sol), -(rep.objective or 0.0)))
    return best


@st.composite
def problems(draw: st.DrawFn, max_parts: int = 5) -> ModelPlacement:
    gpus = tuple(
        GpuDevice(f"g{i}", draw(st.sampled_from([8.0, 16.0])))
        for i in range(draw(st.integers(1, 3)))
    )
    parts = []
    for i in range(draw(st.integers(1, max_parts))):
        parts.append(
            part(
                f"p{i}",
                f"m{draw(st.integers(0, 2))}",
                draw(st.sampled_from([2.0, 4.0, 6.0, 9.0])),
                draw(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9])),
            )
        )
    return ModelPlacement(gpus, tuple(parts), draw(st.integers(1, 2)))


@settings(max_examples=30, deadline=None)
@given(problems())
def test_cpsat_is_optimal_and_never_worse_than_greedy(pb: ModelPlacement) -> None:
    c, cm = solve("cpsat-sensitivity", pb)
    g, gm = solve("sensitivity-greedy", pb)
    mine = (cm["placed"], -cm["sum_max_sensitivity"])
    assert mine >= (gm["placed"], -gm["sum_max_sensitivity"] - 1e-9)
    best = brute_force(pb)
    assert mine[0] == best[0] and abs(mine[1] - best[1]) < 1e-9
