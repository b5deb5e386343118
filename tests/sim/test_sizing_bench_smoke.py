"""A tiny run of ``optsched bench autoscale --ablation``: every policy and
Swayam variant reported, the report and the plots written."""

import json
from pathlib import Path

from optsched.cli import main


def test_autoscale_suite_runs(tmp_path: Path) -> None:
    argv = [
        "bench",
        "--out",
        str(tmp_path),
        "autoscale",
        "--models",
        "3",
        "--duration-min",
        "3",
        "--check-requests",
        "3000",
        "--ablation",
    ]
    assert main(argv) == 0
    report = json.loads((tmp_path / "autoscale.json").read_text())
    policies = {row["policy"]: row for row in report["policies"]}
    assert set(policies) == {"ClairA1", "ClairA2", "Swayam", "HPA", "Static"}
    assert policies["ClairA1"]["vs_ClairA1"] == 1.0
    assert all(
        row["vs_ClairA1"] >= 1.0 for row in policies.values()
    )  # ClairA1 is the workload's size
    assert len(report["model_vs_simulator"]) == 10
    ablation = {row["policy"]: row for row in report["ablation"]}
    assert set(ablation) == {
        "Swayam",
        "Swayam U=2 warm-ahead",
        "Swayam U=2 in-use no-debias",
        "Swayam U=1",
        "ClairA2",
        "HPA",
        "Static",
    }
    assert ablation["ClairA2"]["vs_ClairA2"] == 1.0
    # U = 1 holds fewer backends than U = 2 on the same requests.
    assert ablation["Swayam U=1"]["vs_ClairA1"] < ablation["Swayam"]["vs_ClairA1"]
    for policy in policies:
        assert (tmp_path / f"autoscale-{policy.lower()}.png").stat().st_size > 0
