"""Every benchmark suite is listed with its one-line help and takes its own
options."""

from __future__ import annotations

import argparse

import pytest

from optsched.bench import suites
from optsched.cli import main

EXPECTED = {"autoscale", "latency", "learned", "miad", "mig", "placement", "reschedule", "service"}


def test_bench_list_names_every_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert listed == set(suites()) and listed >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_suite_contract(name: str) -> None:
    mod = suites()[name]
    assert isinstance(mod.HELP, str) and mod.HELP
    parser = argparse.ArgumentParser()
    mod.add_arguments(parser)
    parser.parse_args([])
    assert callable(mod.run)
