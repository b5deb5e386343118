"""Checkpoints of the rescheduling policy.

A checkpoint is one ``torch.save`` file holding a dict:

* ``format``: :data:`FORMAT` (the layout of this dict);
* ``schema``: the feature schema the weights were trained on
  (``version`` and the feature names of each node type and of the pair
  features, from :mod:`optsched.gnn.features`);
* ``policy``: the :class:`~optsched.gnn.policy.PolicyConfig` fields;
* ``weights``: the policy's ``state_dict``;
* ``metadata``: training facts (arguments, samples, wall time, evaluation);
* ``resume`` (training checkpoints only): optimizer state, counters and RNG
  states, enough for ``optsched train reschedule --resume`` to continue.

Loading refuses a checkpoint whose format or schema differs from the code's,
with an error that says what differs, rather than running a network on
features it was not trained on. Files are loaded with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import asdict
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import torch

from optsched.errors import ConfigError
from optsched.gnn.features import NUMA_FEATURES, PAIR_FEATURES, SCHEMA_VERSION, VM_FEATURES
from optsched.gnn.policy import PolicyConfig, ReschedulePolicy

FORMAT = 1
SHIPPED_NAME = "reschedule-medium.pt"
# fine-tuned from it on instances up to production fragmentation (FR0 0.556-0.97)
FRAGMENTED_NAME = "reschedule-medium-fragmented.pt"


class CheckpointError(ConfigError):
    """A checkpoint that cannot serve with this code."""


def schema() -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "vm": list(VM_FEATURES),
        "numa": list(NUMA_FEATURES),
        "pair": list(PAIR_FEATURES),
    }


def shipped_path(name: str = SHIPPED_NAME) -> Path:
    """A checkpoint shipped as package data (``gnn/weights/``)."""
    ref = importlib_resources.files("optsched.gnn") / "weights" / name
    return Path(str(ref))


def save(
    path: str | Path,
    policy: ReschedulePolicy,
    metadata: dict[str, Any],
    resume: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "schema": schema(),
        "policy": asdict(policy.config),
        "weights": policy.state_dict(),
        "metadata": metadata,
    }
    if resume is not None:
        payload["resume"] = resume
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def read(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, after the format and schema checks."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: checkpoint format {got!r}, this code reads {FORMAT}")
    check_schema(payload.get("schema"), str(path))
    return payload


def check_schema(found: Any, where: str) -> None:
    want = schema()
    if not isinstance(found, dict):
        raise CheckpointError(f"{where}: no feature schema in the checkpoint")
    if found.get("version") != want["version"]:
        raise CheckpointError(
            f"{where}: feature schema v{found.get('version')}, this code computes "
            f"v{want['version']}; retrain with 'optsched train reschedule' or use a "
            "matching optsched version"
        )
    for key in ("vm", "numa", "pair"):
        if list(found.get(key, [])) != want[key]:
            raise CheckpointError(
                f"{where}: {key} features {found.get(key)} differ from this code's {want[key]}"
            )


def load(path: str | Path | None = None) -> tuple[ReschedulePolicy, dict[str, Any]]:
    """The policy (in eval mode) and metadata of a checkpoint (the shipped
    one by default)."""
    payload = read(path or shipped_path())
    try:
        policy = ReschedulePolicy(PolicyConfig(**payload["policy"]))
        policy.load_state_dict(payload["weights"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path or shipped_path()}: weights do not fit: {exc}") from exc
    policy.eval()
    return policy, dict(payload.get("metadata", {}))
