"""The learned benchmark's shares: against the proven optimum, else the
bound, else the best plan found; and always against the cell's best plan."""

from __future__ import annotations

from typing import Any

import pytest

from optsched.bench.learned import _shares


def rows() -> list[dict[str, Any]]:
    return [
        {"solver": "exact", "fr0": 0.8, "fr": 0.5},
        {"solver": "gnn", "fr0": 0.8, "fr": 0.4},
        {"solver": "greedy", "fr0": 0.8, "fr": 0.8},
        {"solver": "failed", "fr0": 0.8},
    ]


def test_optimum_reference() -> None:
    rs = rows()
    _shares(rs, {"status": "OPTIMAL", "fr": 0.4})
    assert [r.get("share") for r in rs] == [pytest.approx(0.75), 1.0, 0.0, None]
    assert {r.get("ref") for r in rs[:3]} == {"optimum"}


def test_bound_reference_and_best_known_share() -> None:
    rs = rows()
    _shares(rs, {"status": "FEASIBLE", "fr": 0.5, "bound": 0.0})
    assert rs[1]["share"] == pytest.approx(0.5) and rs[1]["ref"] == "bound"
    assert rs[0]["share_best"] == pytest.approx(0.75)
    assert rs[1]["share_best"] == pytest.approx(1.0)
    assert rs[2]["share_best"] == pytest.approx(0.0)
    assert "share_best" not in rs[3]


def test_best_known_when_no_bound() -> None:
    rs = rows()
    _shares(rs, {"status": "FEASIBLE", "fr": 0.5})
    assert rs[0]["ref"] == "best-known" and rs[0]["share"] == pytest.approx(0.75)
