import json
from pathlib import Path

import pytest

from optsched.cli import main
from optsched.commands.solve_reschedule import SOLVERS


def _host(name: str, free: tuple[int, int]) -> dict:
    return {
        "node_id": name,
        "status": "ACTIVE",
        "node_cpu": 32,
        "node_mem_mb": 64,
        "numa": [
            {
                "node": k,
                "total_cpu": 16,
                "free_cpu": f,
                "memory_huge_total_mb": 32,
                "memory_huge_free_mb": 32 - (16 - f),
            }
            for k, f in enumerate(free)
        ],
    }


def _vm(vm_id: str, host: str, node: int, cpu: int) -> dict:
    return {
        "instance_id": vm_id,
        "host_id": host,
        "numa": [{"node": node, "cpu": cpu, "mem_mb": cpu}],
        "allow_migration": True,
    }


def _snapshot() -> dict:
    return {
        "cluster_list": [
            {
                "host_info": [_host("pm0", (12, 12)), _host("pm1", (8, 16))],
                "vm_instance": [
                    _vm("a", "pm0", 0, 4),
                    _vm("b", "pm0", 1, 4),
                    _vm("c", "pm1", 0, 8),
                ],
            }
        ]
    }


# no name: the portfolio's chain (the learned policy, then CP-SAT from its plan)
@pytest.mark.parametrize("solver", [None, *SOLVERS])
def test_solve_reschedule_prints_and_writes_a_valid_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], solver: str | None
) -> None:
    src, out = tmp_path / "snap.json", tmp_path / "plan.json"
    src.write_text(json.dumps(_snapshot()))
    named = ["--solver", solver] if solver else []
    argv = ["solve", "reschedule", str(src), "--mnl", "2", "--budget", "2", "-o", str(out)]
    assert main(argv + named) == 0
    answer = json.loads(out.read_text())
    assert answer["valid"] and answer["fragment_rate_after"] == 0.0
    assert answer["fragment_rate_before"] == pytest.approx(32 / 48)
    assert answer["solver"] == (solver or answer["solver"])
    assert answer["solver"] in SOLVERS
    assert "fragment rate 0.6667 -> 0.0000" in capsys.readouterr().out


def test_an_unknown_solver_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "snap.json"
    src.write_text(json.dumps(_snapshot()))
    with pytest.raises(SystemExit) as exc:
        main(["solve", "reschedule", str(src), "--solver", "first-fit-decreasing"])
    assert exc.value.code == 2


def test_bad_input_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "snap.json"
    src.write_text(json.dumps({"cluster_list": []}))
    assert main(["solve", "reschedule", str(src)]) == 1
    assert "cluster_list" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_quick_runs(tmp_path: Path) -> None:
    assert (
        main(["bench", "--quick", "--out", str(tmp_path), "reschedule", "--", "--sizes", "medium"])
        == 0
    )
    assert (tmp_path / "reschedule.json").exists() and (
        tmp_path / "reschedule-fr-vs-time.png"
    ).exists()
