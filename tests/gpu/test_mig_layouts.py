"""The MIG catalog's placement rules against the validator: every layout of
one GPU enumerated, accepted iff valid; the 19 maximal base layouts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.model.cluster import Gpu, MigInstance
from optsched.model.mig import load_catalog
from optsched.problems.gpu import GpuPartitionPlacement, MigGpuPlan, MigRequest, MigSolution
from optsched.results import SolveResult, Status, Unplaced
from optsched.solvers._mig_common import LayoutState, maximal_completions
from optsched.validate import validate
from optsched.validation.gpu import layout_violations

MODELS = ["A100-40GB", "A100-80GB", "H100-80GB"]


def base_placements(model: str) -> list[tuple[str, int, int]]:
    """(profile, start, size) for the base profiles: no +me, no 1g double-memory."""
    spec = load_catalog()[model]
    return [
        (p.name, s, p.memory_slices)
        for p in spec.profiles
        if not p.media_extensions and not (p.compute_slices == 1 and p.memory_slices == 2)
        for s in p.starts
    ]


def disjoint(layout: tuple[tuple[str, int, int], ...]) -> bool:
    used: set[int] = set()
    for _, s, size in layout:
        cells = set(range(s, s + size))
        if used & cells:
            return False
        used |= cells
    return True


@pytest.mark.parametrize("model", MODELS)
def test_validator_accepts_exactly_the_disjoint_base_layouts(model: str) -> None:
    places = base_placements(model)
    valid = []
    for r in range(len(places) + 1):
        for combo in itertools.combinations(places, r):
            ok = not layout_violations(model, [(p, s) for p, s, _ in combo])
            assert ok == disjoint(combo), combo
            if ok:
                valid.append(combo)
    maximal = [v for v in valid if not any(disjoint((*v, q)) for q in places if q not in v)]
    assert len(maximal) == 19


@pytest.mark.parametrize("model", MODELS)
def test_solver_enumeration_yields_valid_maximal_layouts(model: str) -> None:
    """The layouts the CP-SAT model is built from: each valid, and none can
    take one more instance, as the validator judges."""
    everything = load_catalog()[model].placements()
    full = maximal_completions(model, ())
    assert len(set(full)) == len(full) > 19  # +me and 1g double-memory add layouts
    for lay in full:
        assert not layout_violations(model, lay)
        assert all(layout_violations(model, [*lay, (p.name, s)]) for p, s in everything)


@pytest.mark.parametrize("model", MODELS)
def test_bad_start_slices_are_rejected(model: str) -> None:
    for p in load_catalog()[model].profiles:
        for s in range(8):
            codes = {c for c, _ in layout_violations(model, [(p.name, s)])}
            assert ("start_slice" in codes) == (s not in p.starts)


def test_counts_media_and_unknown_profiles() -> None:
    assert "media_extensions" in {
        c for c, _ in layout_violations("A100-40GB", [("1g.5gb+me", 0), ("1g.5gb+me", 1)])
    }
    assert "count" in {
        c for c, _ in layout_violations("A100-40GB", [("1g.5gb+me", 0), ("1g.5gb+me", 1)])
    }
    assert "unknown_profile" in {c for c, _ in layout_violations("A100-40GB", [("1g.20gb", 0)])}
    assert not layout_violations(
        "H100-80GB",
        [("1g.10gb+me", 0), ("1g.10gb", 1), ("1g.20gb", 2), ("2g.20gb", 4), ("1g.10gb", 6)],
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(MODELS), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 7)), max_size=8)
)
def test_random_layouts_accepted_iff_the_solver_state_accepts_them(
    model: str, picks: list[tuple[int, int]]
) -> None:
    """The validator (from the data file) and the solvers' incremental
    LayoutState (from the loader) agree on every random layout."""
    spec = load_catalog()[model]
    layout = [(spec.profiles[i].name, s) for i, s in picks]
    state, ok = LayoutState(spec), True
    for name, s in layout:
        prof = spec.profile(name)
        assert prof is not None
        if not state.can_add(prof, s):
            ok = False
            break
        state.add(prof, s)
    assert ok == (not layout_violations(model, layout))


def _result(plans: tuple[MigGpuPlan, ...], unplaced: tuple[str, ...] = ()) -> SolveResult:
    return SolveResult(
        Status.FEASIBLE,
        "test",
        solution=MigSolution(plans),
        unplaced=tuple(Unplaced(u, "x") for u in unplaced),
    )


def test_plans_are_checked_step_by_step() -> None:
    gpu = Gpu(
        "g",
        "A100-40GB",
        (MigInstance("busy", "3g.20gb", 0, True), MigInstance("idle", "1g.5gb", 4)),
    )
    pb = GpuPartitionPlacement((gpu,), (MigRequest("r", profile="3g.20gb"),))
    new = MigInstance("n", "3g.20gb", 4)
    good = _result((MigGpuPlan("g", ("idle",), (new,), {"r": "n"}),))
    rep = validate(pb, good)
    assert rep.ok, rep.summary()
    assert rep.metrics["reconfigured_busy_gpus"] == 1 and rep.metrics["idle_destroyed"] == 1
    assert "overlap" in validate(pb, _result((MigGpuPlan("g", (), (new,), {"r": "n"}),))).codes()
    assert (
        "busy_instance"
        in validate(pb, _result((MigGpuPlan("g", ("busy", "idle"), (new,), {"r": "n"}),))).codes()
    )
    wrong = MigInstance("n", "2g.10gb", 4)
    assert (
        "profile_mismatch"
        in validate(pb, _result((MigGpuPlan("g", ("idle",), (wrong,), {"r": "n"}),))).codes()
    )
    assert "unplaced_reason" in validate(pb, _result(())).codes()
    assert validate(pb, _result((), ("r",))).ok


def test_minimum_requests_must_get_the_smallest_fitting_profile() -> None:
    pb = GpuPartitionPlacement((Gpu("g", "A100-80GB"),), (MigRequest("r", min_memory_gb=15),))
    ok = _result((MigGpuPlan("g", (), (MigInstance("n", "1g.20gb", 0),), {"r": "n"}),))
    big = _result((MigGpuPlan("g", (), (MigInstance("n", "2g.20gb", 0),), {"r": "n"}),))
    assert validate(pb, ok).ok
    assert "profile_mismatch" in validate(pb, big).codes()
