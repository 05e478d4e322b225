"""The TUI tests' app factory: fixed recipes, fixture run dirs, a fixed clock, no timers.

Snapshot tests chdir into tests/tui/fixtures so every path on screen is relative and the same on
every machine (`runs_dir` is `run_dirs`, recipes are `recipes/*.toml`).
"""

from __future__ import annotations

import re
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cookbook_tui.app.config import AppConfig
from cookbook_tui.app.cookbook_app import CookbookApp
from cookbook_tui.recipes.catalog import RecipeInfo

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXED_NOW = datetime(2026, 11, 28, 11, 30, 0, tzinfo=UTC)
LIVE_PIDS = {424242}  # the fixture RL run's pid: "alive" for the tests
TERMINAL = (120, 36)


# The fixed recipes are the catalog's own record, so the screens see what they see in use.
FixtureRecipe = RecipeInfo


FIXTURE_RECIPES = [
    FixtureRecipe("arithmetic-sft", Path("recipes/arithmetic-sft.toml"), "sl", "local",
                  "Chat SFT on arithmetic conversations (tiny model, offline)", True),
    FixtureRecipe("arithmetic-rl", Path("recipes/arithmetic-rl.toml"), "rl", "local",
                  "Arithmetic RL, importance sampling, after a short SFT warmup", True),
    FixtureRecipe("arithmetic-dpo", Path("recipes/arithmetic-dpo.toml"), "dpo", "local",
                  "DPO that prefers correct sums (tiny model, offline)", True),
    FixtureRecipe("guess-number", Path("recipes/guess-number.toml"), "multiturn_rl", "local",
                  "Multi-turn RL: guess the number from higher/lower hints", True),
    FixtureRecipe("my-dpo", Path("recipes/my-dpo.toml"), "dpo", "tinker", "DPO on my preference pairs", False),
    FixtureRecipe("my-sft", Path("recipes/my-sft.toml"), "sl", "local", "Arithmetic SFT, my settings", False),
]


@dataclass(frozen=True)
class FixtureIssue:
    line: int | None
    column: int | None
    field: str | None
    message: str
    severity: str = "error"


def fixed_validator(text: str, source: str) -> list[FixtureIssue]:
    """Snapshot tests fix the validator's words too (the real one is tested with the pilot):
    TOML syntax errors at their line, and learning_rate must be > 0."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"line (\d+), column (\d+)", str(error))
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        return [FixtureIssue(line, column, None, f"TOML syntax: {error}")]
    issues = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r"\s*learning_rate\s*=\s*(-[0-9.e-]+)", line)
        if match:
            issues.append(FixtureIssue(number, line.index("=") + 3, "training.learning_rate",
                                       f"must be > 0, got {match[1]}"))
    return issues


def fixture_config(**overrides) -> AppConfig:
    values = dict(
        runs_dir=Path("run_dirs"),
        recipes_dir=Path("my-recipes"),
        list_recipes=lambda: FIXTURE_RECIPES,
        validate_recipe_text=fixed_validator,
        now=lambda: FIXED_NOW,
        pid_alive=lambda pid: pid in LIVE_PIDS,
        poll_interval=0,
        validate_delay=0.05,
        # each app its own layouts file: a layout saved by one test never reaches another
        layouts_file=Path(tempfile.mkdtemp(prefix="layouts-")) / "layouts.toml",
    )
    values.update(overrides)
    return AppConfig(**values)


def make_app(open_run_dir: str | None = None, **overrides) -> CookbookApp:
    app = CookbookApp(config=fixture_config(**overrides), open_run_dir=Path(open_run_dir) if open_run_dir else None)
    app.animation_level = "none"
    return app


def charted_keys(screen) -> list[str]:
    """The metrics the screen's chart grid draws now (the charts on its page)."""
    from cookbook_tui.app.widgets.metric_chart import MetricChart

    return [chart.key for chart in screen.query(MetricChart) if chart.key is not None and chart.display]


def make_compare_app(run_dirs: list[str], **overrides) -> CookbookApp:
    app = CookbookApp(config=fixture_config(**overrides), compare_run_dirs=[Path(d) for d in run_dirs])
    app.animation_level = "none"
    return app


class FixtureRemote:
    """A Tinker account with fixed runs and checkpoints, for snapshots (the real client is tested
    against `cookbook-tui serve` in test_remote_screen.py and tests/runners/test_remote.py)."""

    where = "https://tinker.example"

    def runs(self, roots):
        from cookbook_tui.runners.remote import RemoteRun

        return [
            RemoteRun("3f2a:train:0", "Qwen/Qwen3-8B", True, 32, "2026-11-28T10:16:00+00:00", False,
                      local_run_dir="run_dirs/arithmetic-sft/20261128-101500"),
            RemoteRun("9c1e:train:0", "meta-llama/Llama-3.1-8B", True, 16, "2026-11-27T18:02:00+00:00", False),
        ]

    def checkpoints(self, run_id):
        from cookbook_tui.runners.remote import RemoteCheckpoint

        base = f"tinker://{run_id}"
        return [
            RemoteCheckpoint(f"{base}/weights/000020", "000020", "training", 176_000_000,
                             "2026-11-28T10:15:40+00:00", "2026-12-05T10:15:40+00:00", False),
            RemoteCheckpoint(f"{base}/sampler_weights/000020", "000020", "sampler", 88_000_000,
                             "2026-11-28T10:15:41+00:00", None, True),
            RemoteCheckpoint(f"{base}/weights/final", "final", "training", 176_000_000,
                             "2026-11-28T10:16:10+00:00", None, False),
        ]


def fake_python(tmp_path: Path, body: str) -> str:
    """A stand-in for `python -m cookbook_tui.cli --run …`: a shell script with `body`."""
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)
