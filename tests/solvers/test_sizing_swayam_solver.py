"""The registered Swayam solver, the independent validator, bad inputs and
the ``optsched solve sizing`` command."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optsched.budget import Budget
from optsched.cli import main
from optsched.errors import DomainError
from optsched.names import SWAYAM
from optsched.problems.sizing import MIN_SERVICE_SAMPLES, BackendSizing, ModelSla
from optsched.registry import create, load_builtin
from optsched.results import SolveResult, Status
from optsched.solvers.sizing.service_time import fit_lognormal
from optsched.validate import validate


def samples(mean_ms: float, sigma: float, k: int = 200, seed: int = 0) -> tuple[float, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.lognormal(np.log(mean_ms) - sigma**2 / 2, sigma, k))


def model(
    name: str = "m", rate: float = 100.0, mean_ms: float = 20.0, sigma: float = 0.3, **kw: float
) -> ModelSla:
    return ModelSla(name, rate, samples(mean_ms, sigma), kw.pop("rt_max_ms", 5 * mean_ms), **kw)


def solve(problem: BackendSizing) -> SolveResult:
    return create(SWAYAM).solve(problem, Budget(5.0))


def test_registered_for_backend_sizing() -> None:
    assert SWAYAM in load_builtin().names()


def test_answer_is_valid_and_minimal() -> None:
    problem = BackendSizing(
        (model("a", 50.0, 20.0), model("b", 5.0, 400.0, 0.5), model("c", 800.0, 10.0, 0.1))
    )
    result = solve(problem)
    assert result.status is Status.OPTIMAL
    report = validate(problem, result)
    assert report.ok, report.summary()
    answers = result.solution["models"]
    assert result.objective == sum(a["backends"] for a in answers.values())
    assert all(a["predicted_compliance"] >= 0.99 for a in answers.values())


def test_log_normal_fit_recovers_parameters() -> None:
    rng = np.random.default_rng(3)
    fit = fit_lognormal(rng.lognormal(-3.0, 0.25, 20_000))
    assert fit.mu_log == pytest.approx(-3.0, abs=0.01)
    assert fit.sigma_log == pytest.approx(0.25, abs=0.01)


def test_infeasible_claim_is_confirmed() -> None:
    problem = BackendSizing((model("a", 2000.0, 50.0),), max_backends=20)
    result = solve(problem)
    assert result.status is Status.INFEASIBLE
    assert [u.item_id for u in result.unplaced] == ["a"]
    assert validate(problem, result).ok


def _tampered(result: SolveResult, **changes: object) -> SolveResult:
    models = {k: dict(v) for k, v in result.solution["models"].items()}
    models["a"].update(changes)
    objective = float(sum(v["backends"] for v in models.values()))
    return SolveResult(
        result.status, result.solver, solution={"models": models}, objective=objective
    )


def test_validator_rejects_wrong_answers() -> None:
    problem = BackendSizing(
        (model("a", 200.0, 20.0, rt_max_ms=40.0),)
    )  # tight: n above the stability bound
    good = solve(problem)
    n = good.solution["models"]["a"]["backends"]
    assert n - 1 >= good.solution["models"]["a"]["stability_bound"]
    assert "sla" in validate(problem, _tampered(good, backends=n - 1)).codes()
    assert "not_minimal" in validate(problem, _tampered(good, backends=n + 2)).codes()
    assert (
        "compliance_claim"
        in validate(problem, _tampered(good, predicted_compliance=0.999999)).codes()
    )
    assert "backends_range" in validate(problem, _tampered(good, backends=1)).codes()
    missing = SolveResult(Status.OPTIMAL, SWAYAM, solution={"models": {}}, objective=0.0)
    assert "structure" in validate(problem, missing).codes()


sizing_models = st.builds(
    lambda rate, mean_ms, sigma, sl, u: model("m", rate, mean_ms, sigma, sl_min=sl, burst_factor=u),
    st.floats(0.5, 500.0),
    st.floats(5.0, 500.0),
    st.floats(0.05, 0.5),
    st.floats(0.5, 0.995),
    st.floats(1.0, 3.0),
)


@settings(max_examples=30, deadline=None)
@given(sizing_models)
def test_every_answer_passes_the_validator(m: ModelSla) -> None:
    problem = BackendSizing((m,), max_backends=2000)
    result = solve(problem)
    report = validate(problem, result)
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rate": 0.0}, "models[m].arrival_rate_per_s"),
        ({"rate": -3.0}, "models[m].arrival_rate_per_s"),
        ({"sl_min": 0.0}, "models[m].sl_min"),
        ({"sl_min": 1.0}, "models[m].sl_min"),
        ({"sl_min": 1.2}, "models[m].sl_min"),
        ({"rt_max_ms": 1.0}, "models[m].rt_max_ms"),
        ({"burst_factor": 0.5}, "models[m].burst_factor"),
    ],
)
def test_bad_inputs_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(DomainError) as exc:
        model(**changes)
    assert exc.value.field == field


def test_rt_max_below_the_service_floor_is_refused() -> None:
    with pytest.raises(DomainError, match="service-time floor"):
        ModelSla("m", 10.0, (5.0,) * 29 + (3.0,), rt_max_ms=3.0)


def test_sample_floor_and_bad_samples() -> None:
    with pytest.raises(DomainError, match=f"at least {MIN_SERVICE_SAMPLES}"):
        ModelSla("m", 10.0, (5.0,) * (MIN_SERVICE_SAMPLES - 1), rt_max_ms=50.0)
    with pytest.raises(DomainError) as exc:
        ModelSla("m", 10.0, (5.0,) * 40 + (0.0,), rt_max_ms=50.0)
    assert exc.value.field == "models[m].service_times_ms[40]"
    with pytest.raises(DomainError, match="duplicate"):
        BackendSizing((model("x"), model("x")))


def test_cli_solves_and_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {
        "models": [
            {
                "name": "a",
                "arrival_rate_per_s": 40.0,
                "service_times_ms": list(samples(30.0, 0.2)),
                "rt_max_ms": 150.0,
            }
        ]
    }
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(doc))
    assert main(["solve", "sizing", str(src), "-o", str(out)]) == 0
    answer = json.loads(out.read_text())
    assert answer["status"] == "OPTIMAL" and answer["solution"]["models"]["a"]["backends"] >= 3
    doc["models"][0]["sl_min"] = 1.5
    src.write_text(json.dumps(doc))
    assert main(["solve", "sizing", str(src)]) == 1
    assert "models[a].sl_min" in capsys.readouterr().err
