"""Shared by ``solve pods`` and ``solve vms``: the common options, the solve
through the portfolio (every answer validated), and the dry-run output: the
plan as text, the ``kubectl`` commands that would carry it out, and JSON."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from optsched.budget import Budget
from optsched.model import Item, Snapshot
from optsched.problems.cluster import PACKING_CHOICES, PodPlacement
from optsched.results import Action, ActionKind, SolveResult

DEFAULT_BUDGET_S = 10.0


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="write the plan as JSON to this file")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds (default: 10)")
    p.add_argument("--solver", help="one solver by name (default: the portfolio's choice)")
    p.add_argument("--packing", choices=PACKING_CHOICES, default="most_allocated")
    p.add_argument("--no-evictions", action="store_true", help="never evict running items")
    p.add_argument("--no-moves", action="store_true", help="never move running items")
    p.add_argument("--max-moves", type=int, help="at most this many moves")


def problem_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "allow_evictions": not args.no_evictions,
        "allow_moves": not args.no_moves,
        "packing": args.packing,
        "max_moves": args.max_moves,
    }


def solve(problem: PodPlacement, args: argparse.Namespace) -> SolveResult:
    from optsched.portfolio import run

    return run(problem, Budget(args.budget), args.solver)


def _ns_name(item: Item) -> tuple[str, str]:
    if "/" in item.item_id:
        ns, name = item.item_id.split("/", 1)
        return ns, name
    return item.namespace, item.item_id


def kubectl_commands(snapshot: Snapshot, action: Action) -> list[str]:
    """Evictions go through the Eviction API (so disruption budgets are
    enforced by the API server); placements are Bindings; a move is an
    eviction whose replacement, created by the owner, is then bound."""
    ns, name = _ns_name(snapshot.item(action.item_id))
    base = f"/api/v1/namespaces/{ns}/pods/{name}"
    if action.kind in (ActionKind.EVICT, ActionKind.MOVE):
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns},
        }
        out = [f"echo {shlex.quote(json.dumps(body))} | kubectl create --raw {base}/eviction -f -"]
        if action.kind is ActionKind.MOVE and action.target is not None:
            owner = snapshot.item(action.item_id).owner or "its controller"
            out.append(
                f"# {owner} recreates {ns}/{name}; bind the replacement to node {action.target.node}"
            )
        return out
    assert action.target is not None
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": ns},
        "target": {"apiVersion": "v1", "kind": "Node", "name": action.target.node},
    }
    return [f"echo {shlex.quote(json.dumps(body))} | kubectl create --raw {base}/binding -f -"]


def _describe(a: Action) -> str:
    where = lambda x: x.node + (f" numa {list(x.numa)}" if x.numa else "")  # noqa: E731
    if a.kind is ActionKind.EVICT:
        return f"evict  {a.item_id} from {where(a.source)}" if a.source else f"evict  {a.item_id}"
    if a.kind is ActionKind.MOVE:
        return f"move   {a.item_id} {where(a.source)} -> {where(a.target)}"  # type: ignore[arg-type]
    return f"place  {a.item_id} on {where(a.target)}"  # type: ignore[arg-type]


def plan_json(problem: PodPlacement, result: SolveResult, kubectl: bool) -> dict[str, Any]:
    actions = result.plan.actions if result.plan else ()
    return {
        "dry_run": True,
        "status": str(result.status),
        "solver": result.solver,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "wall_time_s": round(result.wall_time_s, 4),
        "message": result.message,
        "actions": [
            {
                "step": k,
                "kind": str(a.kind),
                "item": a.item_id,
                "source": a.source.node if a.source else None,
                "target": a.target.node if a.target else None,
                "numa": list(a.target.numa) if a.target else [],
                **({"kubectl": kubectl_commands(problem.snapshot, a)} if kubectl else {}),
            }
            for k, a in enumerate(actions)
        ],
        "unplaced": [{"item": u.item_id, "reason": u.reason} for u in result.unplaced],
        "stats": {
            k: v for k, v in result.stats.items() if isinstance(v, int | float | str | bool | list)
        },
    }


def report(
    problem: PodPlacement, result: SolveResult, args: argparse.Namespace, kubectl: bool
) -> int:
    print(f"status: {result.status}  solver: {result.solver}  time: {result.wall_time_s:.2f}s")
    if result.gap is not None:
        print(
            f"objective (folded unplaced): {result.objective:g}  bound: {result.best_bound:g}  gap: {result.gap:.3g}"
        )
    if result.message:
        print(f"note: {result.message}")
    actions = result.plan.actions if result.plan else ()
    print(f"plan (dry run, {len(actions)} steps, in executable order):")
    for k, a in enumerate(actions):
        print(f"  {k + 1:4d}. {_describe(a)}")
    if result.unplaced:
        print(f"unplaced ({len(result.unplaced)}):")
        for u in result.unplaced:
            print(f"  {u.item_id}: {u.reason}")
    if kubectl and actions:
        print("kubectl commands (not run):")
        for a in actions:
            for line in kubectl_commands(problem.snapshot, a):
                print(f"  {line}")
    if args.output:
        Path(args.output).write_text(json.dumps(plan_json(problem, result, kubectl), indent=2))
        print(f"wrote {args.output}")
    return 0 if result.status.has_solution else 1
