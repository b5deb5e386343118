"""``optsched info FILE``: what a snapshot holds (nodes, items, clusters,
utilization per resource, fragment rate), for a VMR2L JSON or a
``kubectl get nodes,pods,pdb -A -o json`` file, or a shipped snapshot by name."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from optsched.errors import DomainError

NAME = "info"
HELP = "summarize a cluster snapshot (VMR2L JSON, kubectl JSON, or 'medium'/'large')"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("snapshot", help="a file, or the name of a shipped VMR2L snapshot")
    p.add_argument(
        "--fragment-cores", type=int, default=16, help="fragment size for the fragment rate"
    )


def run(args: argparse.Namespace) -> int:
    from optsched.datasets.kubectl import load_kubectl
    from optsched.datasets.vmr2l import SHIPPED, load_shipped, load_vmr2l
    from optsched.metrics import fragment_rate, utilization
    from optsched.model import CPU_CORES

    if args.snapshot in SHIPPED and not Path(args.snapshot).exists():
        snap = load_shipped(args.snapshot)
    else:
        doc = json.loads(Path(args.snapshot).read_text())
        if isinstance(doc, dict) and "cluster_list" in doc:
            snap = load_vmr2l(doc)
        elif isinstance(doc, dict) and isinstance(doc.get("items"), list):
            snap = load_kubectl(doc)
        else:
            raise DomainError(
                "snapshot", "neither a VMR2L snapshot (cluster_list) nor a kubectl List (items)"
            )
    clusters = sorted({n.cluster for n in snap.nodes if n.cluster})
    print(f"nodes:        {len(snap.nodes)} ({sum(n.schedulable for n in snap.nodes)} schedulable)")
    print(f"items:        {len(snap.items)} ({len(snap.pending)} pending)")
    if clusters:
        print(f"clusters:     {len(clusters)} ({', '.join(clusters)})")
    for resource, share in utilization(snap).items():
        print(f"utilization:  {resource} {share:.3f}")
    if any(it.requests[CPU_CORES] for it in snap.items):
        print(
            f"fragment rate ({args.fragment_cores}-core): {fragment_rate(snap, args.fragment_cores):.3f}"
        )
    return 0
