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


def test_train_command_smoke(tmp_path: Path) -> None:
    """A few BC and PPO steps through the CLI, then the exported checkpoint
    loads and plans."""
    exported = tmp_path / "policy.pt"
    cmd = [
        sys.executable, "-m", "optsched.cli", "train", "reschedule",
        "--teacher", "greedy-reschedule", "--train-instances", "1", "--eval-instances", "1",
        "--bc-instances", "1", "--bc-epochs", "1", "--ppo-iterations", "2", "--eval-every", "1",
        "--envs", "2", "--instances-per-iter", "1", "--migration-limits", "3",
        "--eval-migration-limit", "3", "--hidden", "8", "--out", str(tmp_path / "run"),
        "--export", str(exported),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "best checkpoint" in done.stdout
    curve = [
        json.loads(line)
        for line in (tmp_path / "run" / "curve.jsonl").read_text().split("\n")
        if line
    ]
    assert [p["phase"] for p in curve] == ["bc", "ppo", "ppo"]
    assert curve[-1]["samples"] > 0
    resumed = subprocess.run(
        [*cmd[:-2], "--ppo-iterations", "3", "--resume"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = (tmp_path / "run" / "curve.jsonl").read_text().split("\n")
    assert json.loads([x for x in lines if x][-1])["iteration"] == 3

    from optsched.budget import Budget
    from optsched.datasets.vmr2l import load_shipped
    from optsched.problems import VmRescheduling
    from optsched.solvers.learned_reschedule import LearnedReschedule
    from optsched.validate import validate

    problem = VmRescheduling(load_shipped("medium"), migration_limit=3)
    result = LearnedReschedule(checkpoint=str(exported), k=2).solve(problem, Budget(60))
    assert result.status.has_solution, result.message
    assert validate(problem, result).ok
