"""Checkpoints: round trip, and refusal of foreign or mismatching files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from optsched.gnn import checkpoint
from optsched.gnn.checkpoint import CheckpointError
from optsched.gnn.policy import PolicyConfig, ReschedulePolicy


def _saved(tmp_path: Path) -> Path:
    policy = ReschedulePolicy(PolicyConfig(hidden=8, layers=1))
    return checkpoint.save(tmp_path / "p.pt", policy, {"samples": 7})


def test_round_trip(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    policy, meta = checkpoint.load(path)
    assert meta == {"samples": 7}
    assert policy.config == PolicyConfig(hidden=8, layers=1)
    ref = torch.load(path, weights_only=True)["weights"]
    for k, v in policy.state_dict().items():
        assert torch.equal(v, ref[k])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["schema"].update(version=p["schema"]["version"] + 1), "feature schema v"),
        (lambda p: p["schema"]["vm"].reverse(), "vm features"),
        (lambda p: p.update(format=99), "checkpoint format 99"),
        (lambda p: p["policy"].update(hidden=16), "weights do not fit"),
    ],
)
def test_mismatching_checkpoint_is_refused(tmp_path: Path, edit, message: str) -> None:
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
