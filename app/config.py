"""What the app depends on from outside, gathered so tests can fix it (clock, recipes, pids).

The defaults reach the core lazily: `cookbook_tui.recipes` is imported when recipes are first
listed or validated, never at module import, so the first frame does not wait for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cookbook_tui.common.dirs import user_config_dir
from cookbook_tui.common.procs import pid_alive


# Read-only members (properties), so the core's frozen dataclasses match them.
class RecipeEntry(Protocol):
    """What the recipes screen shows (the shape of `cookbook_tui.recipes.RecipeInfo`)."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def workflow(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def bundled(self) -> bool: ...


class RecipeProblem(Protocol):
    """The shape of `cookbook_tui.recipes.RecipeIssue`."""

    @property
    def line(self) -> int | None: ...
    @property
    def column(self) -> int | None: ...
    @property
    def field(self) -> str | None: ...
    @property
    def message(self) -> str: ...
    @property
    def severity(self) -> str: ...  # "error" blocks a launch; "warning" is shown and does not


def is_error(problem: RecipeProblem) -> bool:
    return getattr(problem, "severity", "error") == "error"


def user_recipes_dir() -> Path:
    return user_config_dir() / "recipes"


def list_installed_recipes() -> Sequence[RecipeEntry]:
    from cookbook_tui.recipes import list_recipes

    return list_recipes()


def describe_recipe_file(path: Path) -> RecipeEntry:
    from cookbook_tui.recipes.catalog import recipe_info

    return recipe_info(path)


def validate_with_core(text: str, source: str) -> Sequence[RecipeProblem]:
    from cookbook_tui.recipes import check_text

    return check_text(text, source=source)


def tinker_remote() -> Any:
    """The Tinker account's runs and checkpoints (TINKER_BASE_URL, else the service)."""
    from cookbook_tui.runners.remote import Remote

    return Remote()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppConfig:
    runs_dir: Path = field(default_factory=lambda: Path("runs"))
    recipes_dir: Path = field(default_factory=user_recipes_dir)
    list_recipes: Callable[[], Sequence[RecipeEntry]] = list_installed_recipes
    describe_recipe: Callable[[Path], RecipeEntry] = describe_recipe_file
    validate_recipe_text: Callable[[str, str], Sequence[RecipeProblem]] = validate_with_core
    now: Callable[[], datetime] = utc_now
    remote: Callable[[], Any] = tinker_remote
    pid_alive: Callable[[int | None], bool] = pid_alive
    python: str = sys.executable
    # Live panes poll the run dir this often; snapshot tests set 0 to poll only on mount.
    # A poll costs ~0.2 ms (stat + new bytes only), so a short interval is cheap and keeps the
    # append-to-plot delay under 250 ms (benchmarks/p5_run_dir.py).
    poll_interval: float = 0.2
    validate_delay: float = 0.4
    # A watched run that ends rings the terminal bell besides its toast (COOKBOOK_TUI_BELL=0: no bell).
    bell: bool = field(default_factory=lambda: os.environ.get("COOKBOOK_TUI_BELL", "1") not in ("0", "false", "no"))
    # Extra environment for launched runs (tests point them at a private data dir).
    run_env: dict[str, str] = field(default_factory=dict)
    # Chart layouts saved per kind of run (monitor/layouts.py).
    layouts_file: Path = field(default_factory=lambda: user_config_dir() / "layouts.toml")
