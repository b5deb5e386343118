"""``optsched bench SUITE``: run a benchmark suite (or ``all``)."""

from __future__ import annotations

import argparse

from optsched.errors import ConfigError

NAME = "bench"
HELP = "run a benchmark suite and write its report under reports/"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite name, or 'all' (see 'optsched bench list')")
    p.add_argument("--quick", action="store_true", help="a small, fast version of the suite")
    p.add_argument("--out", default="reports", help="report folder (default: reports)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="suite options (after '--')")


def run(args: argparse.Namespace) -> int:
    from optsched.bench import suites

    available = suites()
    if args.suite == "list":
        for name, mod in available.items():
            print(f"{name:12s} {mod.HELP}")
        return 0
    chosen = list(available) if args.suite == "all" else [args.suite]
    rc = 0
    for name in chosen:
        if name not in available:
            raise ConfigError(
                f"unknown benchmark suite {name!r}; known: {', '.join(available) or 'none'}"
            )
        mod = available[name]
        sp = argparse.ArgumentParser(prog=f"optsched bench {name}")
        mod.add_arguments(sp)
        rest = [a for a in args.rest if a != "--"]
        sargs = sp.parse_args(rest if args.suite != "all" else [])
        sargs.quick = args.quick or getattr(sargs, "quick", False)
        sargs.out = args.out
        print(f"== bench {name}")
        rc = max(rc, int(mod.run(sargs) or 0))
    return rc
