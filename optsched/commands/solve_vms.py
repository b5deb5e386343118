"""``optsched solve vms hosts.json --vm NAME:CORES:MEM_MB[:split] ...``:
place new VMs on the NUMA hosts of a VMR2L snapshot (running VMs may move
if they allow migration); prints a dry-run plan and the reasons for VMs
left unplaced."""

from __future__ import annotations

import argparse

from optsched.commands._placement_io import add_common, problem_options, report, solve
from optsched.errors import DomainError
from optsched.model import CPU_CORES, MEMORY_MB, Item, Resources, Snapshot
from optsched.problems import VmPlacement


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="VMR2L snapshot JSON (hosts and running VMs)")
    p.add_argument(
        "--vm",
        action="append",
        default=[],
        metavar="NAME:CORES:MEM_MB[:split][:PRIORITY]",
        help="a new VM to place (repeatable); 'split' spreads it evenly over two NUMA nodes",
    )
    add_common(p)


def parse_vm(spec: str, k: int) -> Item:
    parts = spec.split(":")
    where = f"--vm[{k}]"
    if len(parts) < 3:
        raise DomainError(where, f"expected NAME:CORES:MEM_MB[:split][:PRIORITY], got {spec!r}")
    name, cores, mem, *rest = parts
    split = "split" in rest
    prio = [r for r in rest if r != "split"]
    try:
        requests = {CPU_CORES: int(cores), MEMORY_MB: int(mem)}
        priority = int(prio[0]) if prio else 0
    except ValueError:
        raise DomainError(
            where, f"cores, memory and priority must be integers, got {spec!r}"
        ) from None
    return Item(
        name,
        Resources.of(requests, where=where),
        priority=priority,
        kind="vm",
        numa_split=split,
        evictable=False,
    )


def run(args: argparse.Namespace) -> int:
    from optsched.datasets.vmr2l import load_vmr2l

    snap = load_vmr2l(args.input)
    new = [parse_vm(s, k) for k, s in enumerate(args.vm)]
    snap = Snapshot(snap.nodes, snap.items + tuple(new), snap.assignments, snap.disruption_budgets)
    problem = VmPlacement(snap, **problem_options(args))
    return report(problem, solve(problem, args), args, kubectl=False)
