"""The console script answers --version and --help without starting anything heavy."""

from __future__ import annotations

import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookbook_tui.app.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_version() -> None:
    from importlib.metadata import version

    out = _cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"cookbook-tui {version('cookbook-tui')}"


def test_help_lists_the_commands() -> None:
    out = _cli("--help")
    assert out.returncode == 0
    for word in ("--run", "validate", "serve", "open", "compare", "--dry-run", "--resume"):
        assert word in out.stdout


def test_unknown_option_exits_2_without_traceback() -> None:
    out = _cli("--no-such-flag")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--no-such-flag" in out.stderr


def test_compare_names_the_run_dir_it_cannot_compare(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    out = _cli("compare", str(run), str(tmp_path / "missing"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"cookbook-tui compare: {tmp_path / 'missing'}: no such run directory"
