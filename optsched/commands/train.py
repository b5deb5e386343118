"""``optsched train reschedule``: train the learned VM rescheduler.

Every field of :class:`optsched.gnn.train.Args` is a flag (``--ppo-iterations
200``, ``--teacher greedy-reschedule``, ``--resume``, ...). ``--export PATH``
writes the best policy without its resume state, the form shipped as package
data. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from optsched.errors import ConfigError

NAME = "train"
HELP = "train a learned solver (reschedule: BC from the exact solver, then PPO)"


def _args_fields() -> list[dataclasses.Field[Any]]:
    from optsched.gnn.train import Args

    return list(dataclasses.fields(Args))


def _add_field(p: argparse.ArgumentParser, f: dataclasses.Field[Any]) -> None:
    flag = "--" + f.name.replace("_", "-")
    default = f.default
    if isinstance(default, bool):
        p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
    elif isinstance(default, tuple):
        kind = type(default[0])
        p.add_argument(
            flag, type=kind, nargs="+", default=list(default), metavar=kind.__name__.upper()
        )
    elif default is None:
        p.add_argument(flag, type=float, default=None)
    else:
        p.add_argument(flag, type=type(default), default=default)


def add_arguments(p: argparse.ArgumentParser) -> None:
    # the model's own flags are parsed in run(), so that building the CLI
    # parser does not import torch
    p.add_argument("model", choices=["reschedule"], help="reschedule: the GNN VM rescheduler")
    p.add_argument("options", nargs=argparse.REMAINDER, help="training flags (--help lists them)")


def model_parser() -> argparse.ArgumentParser:
    sp = argparse.ArgumentParser(
        prog="optsched train reschedule", description="BC from a teacher solver, then PPO"
    )
    for f in _args_fields():
        _add_field(sp, f)
    sp.add_argument("--export", default=None, help="write the best policy here (no resume state)")
    return sp


def run(args: argparse.Namespace) -> int:
    if args.model != "reschedule":
        raise ConfigError("name a model to train: reschedule")
    from optsched.gnn import checkpoint
    from optsched.gnn.train import Args, train

    args = model_parser().parse_args(args.options)
    values = {f.name: getattr(args, f.name) for f in _args_fields()}
    for f in _args_fields():
        if isinstance(f.default, tuple):
            values[f.name] = tuple(values[f.name])
    best = train(Args(**values))
    policy, meta = checkpoint.load(best)
    print(
        f"best checkpoint {best}: eval fragment rate {meta['eval_fragment_rate']:.4f}, "
        f"{meta['samples']} PPO samples, {meta['teacher_steps']} teacher steps, "
        f"{meta['wall_s']:.0f} s"
    )
    if args.export:
        path = checkpoint.save(args.export, policy, meta)
        print(f"exported {path}")
    return 0
