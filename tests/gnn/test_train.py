"""Training: GAE numbers, and a smoke run of the command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optsched.gnn.train import gae


def test_gae_by_hand() -> None:
    # one copy, three steps, the episode ends after step 1 (live turns False)
    rewards = torch.tensor([[1.0], [2.0], [0.0]])
    values = torch.tensor([[0.5], [1.0], [9.0]])
    live = torch.tensor([[True], [True], [False]])
    adv, ret = gae(rewards, values, live, gamma=0.9, lam=0.5)
    d1 = 2.0 - 1.0  # last live step: no bootstrap
    d0 = 1.0 + 0.9 * 1.0 - 0.5
    assert adv[:, 0].tolist() == pytest.approx([d0 + 0.9 * 0.5 * d1, d1, 0.0])
    assert ret[:2, 0].tolist() == pytest.approx([d0 + 0.45 * d1 + 0.5, d1 + 1.0])


def _command(tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "optsched.cli", "train", "reschedule",
        "--teacher", "greedy-reschedule", "--train-instances", "1", "--eval-instances", "1",
        "--bc-instances", "1", "--bc-epochs", "1", "--ppo-iterations", "2", "--eval-every", "1",
        "--envs", "2", "--instances-per-iter", "1", "--migration-limits", "3",
        "--eval-migration-limit", "3", "--hidden", "8", "--out", str(tmp_path / "run"), *extra,
    ]  # fmt: skip


def _curve(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "run" / "curve.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line]


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_train_command_smoke(tmp_path: Path) -> None:
    """A few BC and PPO steps through the CLI; the exported checkpoint loads
    and its plan on the medium snapshot validates."""
    exported = tmp_path / "policy.pt"
    done = _run(_command(tmp_path, "--export", str(exported)), tmp_path)
    assert "best checkpoint" in done.stdout
    curve = _curve(tmp_path)
    assert [p["phase"] for p in curve] == ["bc", "ppo", "ppo"]
    assert curve[-1]["samples"] > 0

    from optsched.budget import Budget
    from optsched.datasets.vmr2l import load_shipped
    from optsched.problems import VmRescheduling
    from optsched.solvers.learned_reschedule import LearnedReschedule
    from optsched.validate import validate

    problem = VmRescheduling(load_shipped("medium"), migration_limit=3)
    result = LearnedReschedule(checkpoint=str(exported), k=2).solve(problem, Budget(60))
    assert result.status.has_solution, result.message
    assert validate(problem, result).ok


def test_fine_tuning_starts_from_a_checkpoint_and_refuses_another_shape(tmp_path: Path) -> None:
    """``--init`` loads a checkpoint's weights (the first evaluation is of
    them, before any update); ``--fragment-rates`` takes floats."""
    first = tmp_path / "first.pt"
    _run(_command(tmp_path, "--export", str(first)), tmp_path)
    tuned = tmp_path / "tuned"
    cmd = _command(tmp_path, "--init", str(first), "--bc-epochs", "0")
    cmd[cmd.index("--out") + 1] = str(tuned)
    _run([*cmd, "--fragment-rates", "0.556", "0.9"], tmp_path)
    lines = (tuned / "curve.jsonl").read_text().splitlines()
    curve = [json.loads(line) for line in lines]
    assert curve[0]["phase"] == "init" and curve[0]["samples"] == 0
    from optsched.gnn import checkpoint

    _, meta = checkpoint.load(first)
    assert curve[0]["eval_fr"] == pytest.approx(meta["eval_fragment_rate"])
    _, tuned_meta = checkpoint.load(tuned / "last.pt")
    assert list(tuned_meta["args"]["fragment_rates"]) == [0.556, 0.9]
    other = [*cmd, "--hidden", "16"]
    done = subprocess.run(other, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode != 0 and "its network is" in done.stderr


@pytest.mark.slow
def test_train_command_resumes(tmp_path: Path) -> None:
    _run(_command(tmp_path), tmp_path)
    _run([*_command(tmp_path), "--ppo-iterations", "3", "--resume"], tmp_path)
    curve = _curve(tmp_path)
    assert [p["iteration"] for p in curve] == [0, 1, 2, 3]
    assert curve[-1]["samples"] > curve[-2]["samples"]
