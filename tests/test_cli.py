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
    for word in ("--run", "validate", "serve", "open", "--dry-run", "--resume"):
        assert word in out.stdout


def test_unknown_option_exits_2_without_traceback() -> None:
    out = _cli("--no-such-flag")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--no-such-flag" in out.stderr


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
    from cookbook_tui.app import cli
    from cookbook_tui.app.cookbook_app import CookbookApp

    recipe = tmp_path / "mine.toml"
    recipe.write_text('name = "mine"\nworkflow = "sl"\n')
    made = []
    monkeypatch.setattr(CookbookApp, "run", lambda self: made.append(self))
    assert cli.main(["edit", str(recipe)]) == 0
    assert made and made[0].edit_recipe == recipe
