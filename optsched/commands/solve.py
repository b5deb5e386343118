"""``optsched solve KIND INPUT -o OUTPUT``: solve one problem from a file.

Each kind's reader and writer lives in ``optsched.commands.solve_<kind>``
(``add_arguments(parser)``, ``run(args) -> int``), so kinds are added as their
solvers land. Plans are dry-run: nothing is changed in any cluster.
"""

from __future__ import annotations

import argparse
import importlib

from optsched.errors import ConfigError

NAME = "solve"
HELP = "solve a placement, rescheduling or sizing problem read from a file"

KINDS: dict[str, str] = {
    "pods": "kubectl get nodes,pods,pdb -A -o json output (or an optsched PodPlacement JSON)",
    "vms": "VM placement on NUMA hosts (VMR2L JSON or optsched JSON)",
    "reschedule": "VM rescheduling with a migration limit (VMR2L JSON)",
    "mig": "MIG GPU partition placement",
    "models": "sensitivity-aware model placement on GPUs",
    "sizing": "SLA-aware backend sizing (Swayam)",
    "frequency": "MIAD GPU frequency control over a latency trace",
}


def _module(kind: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"optsched.commands.solve_{kind}")
    except ModuleNotFoundError as exc:
        if exc.name == f"optsched.commands.solve_{kind}":
            return None
        raise


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kind", metavar="KIND")
    for kind, help_text in KINDS.items():
        mod = _module(kind)
        if mod is None:
            continue
        sp = sub.add_parser(kind, help=help_text, description=help_text)
        mod.add_arguments(sp)
        sp.set_defaults(_solve=mod.run)


def run(args: argparse.Namespace) -> int:
    solve = getattr(args, "_solve", None)
    if solve is None:
        raise ConfigError("name a problem kind: " + ", ".join(KINDS))
    return int(solve(args) or 0)
