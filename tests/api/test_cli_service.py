"""The CLI verbs on proto3 JSON files: ``optsched validate`` and
``optsched client`` against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from svc_builders import (
    frequency_request,
    mig_request,
    models_request,
    place_pods_request,
    reschedule_request,
    sizing_request,
)
from svc_live import LiveServer

from optsched.api.jsonio import to_json
from optsched.cli import main


def test_place_then_validate(
    live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem, solution = tmp_path / "problem.json", tmp_path / "solution.json"
    problem.write_text(to_json(place_pods_request()))
    assert (
        main(["client", "--target", live.address, "place", str(problem), "-o", str(solution)]) == 0
    )
    assert main(["validate", str(problem), str(solution)]) == 0
    assert "valid: 0 violation(s)" in capsys.readouterr().out
    broken = json.loads(solution.read_text())
    broken["plan"]["actions"][0]["target"]["node"] = "nowhere"
    solution.write_text(json.dumps(broken))
    assert main(["validate", str(problem), str(solution)]) == 1
    assert "INVALID" in capsys.readouterr().out


def _break_mig(s: dict[str, Any]) -> None:
    plan = next(p for p in s["plans"] if p.get("assignments"))
    plan["assignments"][next(iter(plan["assignments"]))] = "no-such-instance"


def _break_models(s: dict[str, Any]) -> None:
    s["placement"]["llama/0"] = "no-such-gpu"


def _break_sizing(s: dict[str, Any]) -> None:
    s["models"][0]["backends"] = "1"  # int64 is a JSON string


def _break_frequency(s: dict[str, Any]) -> None:
    s["gpus"][0]["decisions"][0]["clockMhz"] = 5000


@pytest.mark.parametrize(
    ("build", "break_solution"),
    [
        (mig_request, _break_mig),
        (models_request, _break_models),
        (sizing_request, _break_sizing),
        (frequency_request, _break_frequency),
    ],
    ids=["mig", "models", "sizing", "frequency"],
)
def test_gpu_and_serving_files_place_then_validate(
    live: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    build: Any,
    break_solution: Any,
) -> None:
    problem, solution = tmp_path / "problem.json", tmp_path / "solution.json"
    problem.write_text(to_json(build()))
    assert (
        main(["client", "--target", live.address, "place", str(problem), "-o", str(solution)]) == 0
    )
    assert main(["validate", str(problem), str(solution)]) == 0
    assert "valid: 0 violation(s)" in capsys.readouterr().out
    broken = json.loads(solution.read_text())
    break_solution(broken)
    solution.write_text(json.dumps(broken))
    assert main(["validate", str(problem), str(solution)]) == 1
    assert "INVALID" in capsys.readouterr().out


def test_validate_names_bad_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem, solution = tmp_path / "problem.json", tmp_path / "solution.json"
    request = json.loads(to_json(place_pods_request()))
    request["pods"]["snapshot"]["items"][0]["requests"]["quantities"]["cpu_millis"] = "-3"
    problem.write_text(json.dumps(request))
    solution.write_text("{}")
    assert main(["validate", str(problem), str(solution)]) == 1
    assert "pods.snapshot.items[0].requests.quantities[cpu_millis]" in capsys.readouterr().err
    problem.write_text('{"nothing": 1}')
    assert main(["validate", str(problem), str(solution)]) == 1


def test_job_submit_wait_and_result(
    live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problem, solution = tmp_path / "problem.json", tmp_path / "solution.json"
    problem.write_text(to_json(reschedule_request(budget_s=1.0)))
    assert (
        main(
            [
                "client",
                "--target",
                live.address,
                "job",
                "submit",
                str(problem),
                "--wait",
                "--label",
                "cli",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "succeeded" in out
    job_id = out.split()[0]
    assert (
        main(["client", "--target", live.address, "job", "result", job_id, "-o", str(solution)])
        == 0
    )
    assert main(["validate", str(problem), str(solution)]) == 0
    assert main(["client", "--target", live.address, "job", "list"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["client", "--target", live.address, "job", "status", "missing"]) == 1
