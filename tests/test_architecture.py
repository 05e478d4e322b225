"""Guard rails: the core never imports textual; the TUI's start-up path never imports torch & co."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ["torch", "transformers", "tinker", "tinker_cookbook", "datasets", "peft"]
ROOT = Path(__file__).resolve().parent.parent


def _tui_modules() -> list[str]:
    """Every module of the CLI, app, screens and monitor packages."""
    import cookbook_tui.app
    import cookbook_tui.cli
    import cookbook_tui.monitor
    import cookbook_tui.screens

    names = []
    for pkg in (cookbook_tui.cli, cookbook_tui.app, cookbook_tui.screens, cookbook_tui.monitor):
        names.append(pkg.__name__)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(set(names))


def heavy_modules_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_tui_start_up_path_imports_no_heavy_library() -> None:
    modules = _tui_modules()
    assert "cookbook_tui.cli.main" in modules
    assert heavy_modules_after_importing(modules) == []


def test_the_hygiene_check_catches_a_heavy_import() -> None:
    # The check above must be able to fail: importing torch is seen.
    assert "torch" in heavy_modules_after_importing(["cookbook_tui.cli.main", "torch"])


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("lint-imports is not installed in this environment (dev extra)")
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "KEPT" in out.stdout
