"""The Azure Functions 2019 invocation trace format (Shahrad et al., "Serverless
in the Wild", USENIX ATC 2020; files invocations_per_function_md.anon.dNN.csv).

One row per function and day: ``HashOwner,HashApp,HashFunction,Trigger``
followed by 1440 columns named ``1`` .. ``1440``, the number of invocations in
each minute of the day. The public trace cannot be downloaded here; this
module reads and writes the format, and :func:`arrivals_from_counts` turns a
row into request arrival times by spreading each minute's count uniformly at
random within the minute (given its count, a Poisson process's arrivals are
independent and uniform over the interval).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optsched.errors import DomainError

MINUTES_PER_DAY = 1440
SECONDS_PER_MINUTE = 60.0
KEY_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
HEADER = (*KEY_COLUMNS, *(str(m) for m in range(1, MINUTES_PER_DAY + 1)))
TRIGGERS = ("http", "queue", "event", "orchestration", "timer", "storage", "others")


@dataclass(frozen=True)
class FunctionTrace:
    owner: str
    app: str
    function: str
    trigger: str
    counts_per_minute: np.ndarray  # int, length 1440

    @property
    def total(self) -> int:
        return int(self.counts_per_minute.sum())


def _parse_row(row: dict[str, str], line: int) -> FunctionTrace:
    try:
        counts = np.array([int(row[str(m)]) for m in range(1, MINUTES_PER_DAY + 1)], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise DomainError(f"line {line}", f"minute counts must be 1440 integers ({exc})") from None
    if np.any(counts < 0):
        raise DomainError(f"line {line}", "minute counts must be non-negative")
    return FunctionTrace(
        row["HashOwner"], row["HashApp"], row["HashFunction"], row["Trigger"], counts
    )


def read_invocations_csv(path: str | Path) -> list[FunctionTrace]:
    """Every row of an invocations-per-function CSV."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in HEADER if c not in (reader.fieldnames or ())]
        if missing:
            raise DomainError(
                str(path), f"not an Azure Functions invocation CSV; missing columns {missing[:5]}"
            )
        return [_parse_row(row, k + 2) for k, row in enumerate(reader)]


def write_invocations_csv(path: str | Path, rows: Iterable[FunctionTrace]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for r in rows:
            if r.counts_per_minute.shape != (MINUTES_PER_DAY,):
                raise DomainError(f"function {r.function}", "needs exactly 1440 minute counts")
            w.writerow([r.owner, r.app, r.function, r.trigger, *map(int, r.counts_per_minute)])


def arrivals_from_counts(counts_per_minute: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times (seconds from the first minute's start): each
    minute's count spread uniformly at random within that minute."""
    counts = np.asarray(counts_per_minute, dtype=np.int64)
    if np.any(counts < 0):
        raise DomainError("counts_per_minute", "must be non-negative")
    minute = np.repeat(np.arange(counts.size, dtype=float), counts)
    return np.sort((minute + rng.random(minute.size)) * SECONDS_PER_MINUTE)


SAMPLE_FILE = "azure_functions_invocations_sample.csv"


def load_sample() -> list[FunctionTrace]:
    """The shipped sample: a synthetic day in this format (see data/README.md)."""
    from importlib import resources

    with resources.as_file(resources.files("optsched.datasets") / "data" / SAMPLE_FILE) as p:
        return read_invocations_csv(p)
