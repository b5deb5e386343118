from pathlib import Path

import pytest

from optsched.cli import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "kubectl_cluster.json"


def test_info_on_shipped_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "medium"]) == 0
    out = capsys.readouterr().out
    assert "nodes:        279" in out and "items:        2089" in out
    assert "fragment rate (16-core): 0.977" in out


def test_info_on_kubectl_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(FIXTURE)]) == 0
    assert "pending" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "malformed JSON"), ('{"kind": "Pod"}', "snapshot: neither")],
)
def test_info_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "/nonexistent/cluster.json"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("optsched ")
