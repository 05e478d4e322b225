"""The console script answers --version and --help without starting anything heavy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_version() -> None:
    from importlib.metadata import version

    out = _cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"cookbook-tui {version('cookbook-tui')}"


def test_the_installed_console_script_runs() -> None:
    """`cookbook-tui` as pip installed it (pyproject's [project.scripts]), not `python -m`."""
    from importlib.metadata import version
    from pathlib import Path

    script = Path(sys.executable).parent / "cookbook-tui"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
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


def test_output_into_a_closed_pipe_stops_quietly() -> None:
    """`cookbook-tui schema | head -1`: the reader is gone before the writing ends."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after `head` exits
    try:
        out = subprocess.run(
            [sys.executable, "-m", "cookbook_tui.cli", "schema"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
    assert out.returncode == 128 + signal.SIGPIPE


def test_compare_names_the_run_dir_it_cannot_compare(tmp_path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    out = _cli("compare", str(run), str(tmp_path / "missing"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"cookbook-tui compare: {tmp_path / 'missing'}: no such run directory"


def test_one_user_config_dir_expands_the_tilde(monkeypatch, tmp_path) -> None:
    # The recipe list and Save-as once disagreed: Save-as wrote to a literal ./~/cfgx/recipes.
    from cookbook_tui.app.config import AppConfig
    from cookbook_tui.recipes.catalog import recipe_dirs

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COOKBOOK_TUI_CONFIG_DIR", "~/cfgx")
    expected = tmp_path / "cfgx" / "recipes"
    assert AppConfig().recipes_dir == expected
    assert (expected, False) in recipe_dirs()


def test_edit_a_missing_or_unreadable_recipe_exits_2_naming_it(tmp_path) -> None:
    binary = tmp_path / "weights.toml"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    for target, why in ((tmp_path / "nope.toml", "no such file"), (tmp_path, "is a folder"),
                        (binary, "not a text file")):
        out = _cli("edit", str(target))
        assert out.returncode == 2, out
        assert out.stderr.strip() == f"cookbook-tui edit: {target}: {why}" or why in out.stderr, out.stderr
        assert str(target) in out.stderr and "Traceback" not in out.stderr


def test_edit_opens_the_editor_on_that_file(tmp_path, monkeypatch) -> None:
    """`cookbook-tui edit FILE` builds the app on that file (the pilot test shows the editor)."""
    from cookbook_tui.app.cookbook_app import CookbookApp
    from cookbook_tui.cli import main as cli

    recipe = tmp_path / "mine.toml"
    recipe.write_text('name = "mine"\nworkflow = "sl"\n')
    made = []
    monkeypatch.setattr(CookbookApp, "run", lambda self: made.append(self))
    assert cli.main(["edit", str(recipe)]) == 0
    assert made and made[0].edit_recipe == recipe
