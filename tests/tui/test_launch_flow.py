"""The whole path through the app with the real recipes, validator, runner and local engine:
pick a recipe, edit it, see an invalid value's error, fix it, launch it on the local backend,
watch metrics arrive in the run screen, see the run finish, and chat with its checkpoint."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cookbook_tui.app.config import AppConfig, list_installed_recipes, validate_with_core
from cookbook_tui.app.cookbook_app import CookbookApp
from cookbook_tui.screens.dialogs import SaveAsScreen
from cookbook_tui.screens.editor import EditorScreen
from cookbook_tui.screens.run import RunScreen

from .factory import charted_keys
from .waiting import wait_until

RUNNER_MISSING = importlib.util.find_spec("cookbook_tui.runners.headless") is None
STEPS = 12


async def replace_value(pilot, screen: EditorScreen, key: str, new_value: str) -> int:
    """Select the value of `key = …` in the editor and type `new_value` over it, as a user would."""
    editor = screen.editor
    row = next(i for i, line in enumerate(editor.text.splitlines()) if line.strip().startswith(f"{key} ="))
    line = editor.document.get_line(row)
    start = line.index("=") + 1
    while line[start] == " ":
        start += 1
    end = start
    while end < len(line) and line[end] not in " #":
        end += 1
    editor.move_cursor((row, start))
    editor.move_cursor((row, end), select=True)
    await pilot.press(*new_value)
    return row + 1


@pytest.mark.skipif(RUNNER_MISSING, reason="the headless runner (runners/headless.py) is not written yet")
async def test_pick_edit_fix_launch_watch_finish(tmp_path: Path, tiny_model_path: Path) -> None:
    config = AppConfig(
        runs_dir=tmp_path / "runs",
        recipes_dir=tmp_path / "my-recipes",
        list_recipes=list_installed_recipes,
        validate_recipe_text=validate_with_core,
        poll_interval=0.2,
        validate_delay=0.05,
    )
    app = CookbookApp(config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        # pick: type to filter, Enter to edit
        await pilot.press(*"arithmetic-sft")
        assert [r.name for r in app.screen.query_one("#recipe-table").shown] == ["arithmetic-sft"]
        await pilot.press("enter")
        editor_screen = app.screen
        assert isinstance(editor_screen, EditorScreen)
        assert editor_screen.problems == []

        # an invalid value shows its error at its line
        line = await replace_value(pilot, editor_screen, "learning_rate", "-1")
        await wait_until(pilot, lambda: editor_screen.validated_text == editor_screen.text, "validation")
        assert [(p.line, p.field) for p in editor_screen.problems] == [(line, "training.learning_rate")]
        assert "-1" in editor_screen.problems[0].message
        assert editor_screen.editor.problem_lines == {line - 1}

        # launching is refused while it is invalid
        await pilot.press("ctrl+r")
        assert app.screen is editor_screen

        # fix it, and make the run short
        await replace_value(pilot, editor_screen, "learning_rate", "3e-3")
        await replace_value(pilot, editor_screen, "max_steps", str(STEPS))
        await wait_until(pilot, lambda: editor_screen.validated_text == editor_screen.text, "validation")
        assert editor_screen.problems == []

        # launch: a bundled recipe is saved as the user's copy first
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, SaveAsScreen)
        await pilot.press("ctrl+u", *"short-sft", "enter")
        saved = tmp_path / "my-recipes" / "short-sft.toml"
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        assert saved.read_text().startswith("# Chat SFT on single-digit addition")  # comments kept
        run_screen = app.screen
        assert run_screen.run_dir.parent == tmp_path / "runs" / "short-sft"

        # metrics appear in the run screen as the run trains, then it finishes
        columns = lambda: run_screen.run_watch.metrics.columns  # noqa: E731
        await wait_until(pilot, lambda: "train_mean_nll" in columns(), "the first metrics", polls=1200)
        # the chart grid draws the new metric on its next refresh, a tick after the rows arrive
        await wait_until(pilot, lambda: "train_mean_nll" in charted_keys(run_screen), "the metric's chart")
        await wait_until(
            pilot, lambda: run_screen.effective_status().state in ("finished", "failed"), "the run to end", polls=1500
        )
        status = run_screen.effective_status()
        assert status.state == "finished", status.error
        steps, losses = columns()["train_mean_nll"]
        assert len(steps) == STEPS
        assert losses[-1] < losses[0]  # it learned

        # chat with the final checkpoint: a worker samples it through the local engine
        await pilot.press("3")
        table = run_screen.query_one("#checkpoints-table")
        await wait_until(pilot, lambda: table.row_count > 0, "the checkpoints")
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("c")
        await pilot.press(*"What is 3 + 4?", "enter")
        chat_log = run_screen.query_one("#chat-log")
        await wait_until(pilot, lambda: any(line.startswith("model:") for line in chat_log.lines), "a reply", polls=900)
        assert chat_log.lines[0] == "you: What is 3 + 4?"


@pytest.mark.skipif(RUNNER_MISSING, reason="the headless runner (runners/headless.py) is not written yet")
async def test_dry_run_preview_shows_the_runner_output_with_the_loss_mask(tmp_path: Path, tiny_model_path: Path) -> None:
    from cookbook_tui.screens.dry_run import DryRunScreen

    config = AppConfig(runs_dir=tmp_path / "runs", recipes_dir=tmp_path / "my-recipes", poll_interval=0)
    app = CookbookApp(config=config)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press(*"arithmetic-sft", "enter")
        assert isinstance(app.screen, EditorScreen)
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, DryRunScreen), "the dry run", polls=900)
        screen = app.screen
        assert screen.returncode == 0, screen.output
        # the screen is pushed first, its widgets are mounted a moment later
        await wait_until(pilot, lambda: bool(screen.query(".dry-run-output")), "the dry run's output")
        shown = screen.query_one(".dry-run-output").render()
        assert "first training example" in str(shown)
        # the runner's colours survive: the trained part of the example is styled, not plain text
        assert "\x1b[" in screen.output
        assert any(span.style for span in shown.spans)
        assert not list((tmp_path / "runs").glob("*"))  # a dry run trains nothing and writes no run
