"""``optsched solve mig|models|frequency`` and the GPU bench suites, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optsched.cli import main


def write(tmp_path: Path, name: str, data: object) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return str(p)


def test_solve_mig(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "mig.json",
        {
            "gpus": [
                {
                    "gpu_id": "g0",
                    "model": "A100-40GB",
                    "instances": [
                        {"instance_id": "b", "profile": "3g.20gb", "start_slice": 0, "busy": True}
                    ],
                }
            ],
            "requests": [
                {"request_id": "r0", "profile": "2g.10gb", "priority": 1},
                {"request_id": "r1", "min_memory_gb": 30},
            ],
        },
    )
    out = tmp_path / "out.json"
    assert (
        main(
            [
                "solve",
                "mig",
                src,
                "-o",
                str(out),
                "--solver",
                "cpsat-mig",
                "--workers",
                "1",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    ans = json.loads(out.read_text())
    assert ans["valid"] and ans["metrics"]["placed"] == 1
    assert ans["plans"][0]["create"][0]["start_slice"] == 4
    assert ans["unplaced"][0]["id"] == "r1"


def test_solve_models_and_frequency(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "m.json",
        {
            "gpus": [{"gpu_id": "g", "memory_gb": 16}],
            "partitions": [{"partition_id": "p", "model": "m", "memory_gb": 4, "sensitivity": 0.5}],
        },
    )
    out = tmp_path / "o.json"
    assert main(["solve", "models", src, "-o", str(out)]) == 0
    assert json.loads(out.read_text())["placement"] == {"p": "g"}
    src = write(
        tmp_path,
        "f.json",
        {
            "gpus": [
                {
                    "gpu_id": "g",
                    "clocks": {"min_mhz": 200, "max_mhz": 1380},
                    "partitions": [{"partition_id": "m", "slo_ms": 100}],
                    "periods": [{"m": [20.0]}, {"m": [99.0]}],
                }
            ]
        },
    )
    assert main(["solve", "frequency", src, "-o", str(out)]) == 0
    steps = json.loads(out.read_text())["decisions"]["g"]
    assert [(s["action"], s["clock_mhz"]) for s in steps] == [("DOWN", 1280), ("UP", 1380)]


@pytest.mark.parametrize(
    "kind, data, field",
    [
        ("mig", {"gpus": [{"gpu_id": "g", "model": "B200"}]}, "gpus[g].model"),
        ("mig", {"requests": [{"request_id": "r", "profile": "9g.99gb"}]}, "requests[r].profile"),
        (
            "mig",
            {
                "gpus": [
                    {
                        "gpu_id": "g",
                        "model": "A100-40GB",
                        "instances": [{"instance_id": "i", "profile": "3g.20gb", "start_slice": 2}],
                    }
                ]
            },
            "start_slice",
        ),
        ("models", {"gpus": [{"gpu_id": "g", "memory_gb": "big"}]}, "gpus[0].memory_gb"),
        ("frequency", {"gpus": [{"gpu_id": "g", "partitions": []}]}, "gpus[0].clocks"),
    ],
)
def test_bad_input_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, data: object, field: str
) -> None:
    assert main(["solve", kind, write(tmp_path, "bad.json", data)]) == 1
    assert field in capsys.readouterr().err


def test_bench_suites_run_small(tmp_path: Path) -> None:
    assert (
        main(
            [
                "bench",
                "--out",
                str(tmp_path),
                "mig",
                "--",
                "--sizes",
                "12",
                "--loads",
                "1.1",
                "--budget-s",
                "5",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    rows = json.loads((tmp_path / "mig.json").read_text())["rows"]
    assert {r["solver"] for r in rows} == {"greedy-mig", "cpsat-mig"}
    assert (tmp_path / "mig-scaling.png").exists()
    assert main(["bench", "--out", str(tmp_path), "miad", "--", "--duration-s", "40"]) == 0
    rows = json.loads((tmp_path / "miad.json").read_text())["rows"]
    assert {r["policy"] for r in rows} == {
        "always-max",
        "static-best",
        "miad",
        "miad-0.3",
        "miad-hold10",
    }
    assert {r["trace"] for r in rows} == {"poisson", "bursty", "overload"}
    assert (tmp_path / "miad-timeline.png").exists()
