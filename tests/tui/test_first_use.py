"""The defects a new user hit (issue 11): each test failed before its fix."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from cookbook_tui.runners import headless
from cookbook_tui.screens.editor import EditorScreen

from .factory import FIXTURE_RECIPES, FIXTURES, FixtureRecipe, fake_python, make_app
from .waiting import runs_read, wait_until

SIZE = (120, 36)


def saved_copy(tmp_path: Path, file_name: str) -> Path:
    """A user's save-as copy of a bundled recipe: new file name, the recipe's `name` unchanged."""
    path = tmp_path / "my-recipes" / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "recipes" / "arithmetic-sft.toml", path)
    return path


# Item 6 ------------------------------------------------------------------------------------------
async def test_the_app_and_headless_name_run_folders_by_one_rule(tmp_path: Path, monkeypatch) -> None:
    recipe_file = saved_copy(tmp_path, "my SFT run.toml")
    assert 'name = "arithmetic-sft"' in recipe_file.read_text()
    app = make_app(runs_dir=tmp_path / "runs", python=fake_python(tmp_path, "exit 0"))
    async with app.run_test(size=SIZE) as pilot:
        from_app = app.launch_run(recipe_file, "arithmetic-sft")
        await pilot.pause()
    monkeypatch.chdir(tmp_path)  # headless runs go to ./runs
    recipe = headless._load(str(recipe_file), None)
    from_cli, resuming = headless._run_dir_for(argparse.Namespace(resume=None, log_dir=None), recipe)
    assert not resuming
    assert from_app.parent == (tmp_path / from_cli).parent == tmp_path / "runs" / "my-SFT-run"
    assert from_app.is_dir() and (tmp_path / from_cli).is_dir() and from_app != tmp_path / from_cli


async def test_recipes_with_one_name_are_told_apart_on_the_home_list(tmp_path: Path) -> None:
    bundled = FixtureRecipe("arithmetic-sft", Path("recipes/arithmetic-sft.toml"), "sl", "local", "d", True)
    copies = [FixtureRecipe("arithmetic-sft", saved_copy(tmp_path, f"{stem}.toml"), "sl", "local", "d", False)
              for stem in ("my-SFT-run", "arithmetic-sft")]
    app = make_app(list_recipes=lambda: [bundled, *copies])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#recipe-table")
        rows = [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        assert len(rows) == 3 and len(set(rows)) == 3, rows
        assert any("my-SFT-run.toml" in " ".join(row) for row in rows)


# Item 7 ------------------------------------------------------------------------------------------
LONG_NAME = "arithmetic-sft-with-a-very-long-name-that-a-user-typed-into-the-save-as-dialog-to-recall-itx"


def columns_fit(table, first: int) -> bool:
    """The first `first` columns lie wholly inside the table's width."""
    widths = [column.get_render_width(table) for column in list(table.columns.values())[:first]]
    return sum(widths) <= table.size.width


async def test_a_long_recipe_name_leaves_the_other_columns_on_screen(tmp_path: Path) -> None:
    assert len(LONG_NAME) == 92
    long = FixtureRecipe(LONG_NAME, saved_copy(tmp_path, f"{LONG_NAME}.toml"), "sl", "local", "mine", False)
    app = make_app(list_recipes=lambda: [long])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(80, 24)  # shrunk: cells are cut again, columns narrow again
        await pilot.pause()
        table = app.screen.query_one("#recipe-table")
        assert columns_fit(table, 4), [c.get_render_width(table) for c in table.columns.values()]
        assert str(table.get_row_at(0)[0]).endswith("…")
        assert LONG_NAME in str(app.screen.query_one("#recipe-detail").render())  # in full there


async def test_a_long_run_name_leaves_steps_and_metrics_on_screen(tmp_path: Path) -> None:
    from cookbook_tui.runners import rundir
    from cookbook_tui.screens.runs import RunsScreen

    run_dir = rundir.new_run_dir(tmp_path / "runs", LONG_NAME)
    rundir.write_status(run_dir, {"state": "finished", "recipe": LONG_NAME, "workflow": "sl", "step": 300,
                                  "total_steps": 300, "started_at": "2026-11-28T10:00:00+00:00"})
    (run_dir / "metrics.jsonl").write_text('{"step": 299, "train_mean_nll": 0.5}\n')
    for size, fitting in (((160, 48), 7), ((80, 24), 6)):
        app = make_app(runs_dir=tmp_path / "runs")
        async with app.run_test(size=size) as pilot:
            app.push_screen(RunsScreen())
            await runs_read(pilot)
            table = app.screen.query_one("#runs-table")
            assert columns_fit(table, fitting), (size, [c.get_render_width(table) for c in table.columns.values()])


# Item 11: name matches rank first -----------------------------------------------------------------
async def test_a_recipe_named_like_the_filter_ranks_before_one_that_only_mentions_it(tmp_path: Path) -> None:
    mentions = FixtureRecipe("arithmetic-distill", Path("recipes/a.toml"), "distill", "local",
                             "On-policy distillation toward an SFT-trained teacher", True)
    named = FixtureRecipe("arithmetic-sft", saved_copy(tmp_path, "b.toml"), "sl", "local", "Chat fine-tuning", False)
    app = make_app(list_recipes=lambda: [mentions, named])
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#recipe-table")
        assert table.selected.name == "arithmetic-distill"  # first in the unfiltered list
        for key in "sft":
            await pilot.press(key)
            await pilot.pause(0.1)
        assert [r.name for r in table.shown] == ["arithmetic-sft", "arithmetic-distill"]
        assert table.selected.name == "arithmetic-sft"  # Enter opens the best match
        await pilot.press("enter")
        assert isinstance(app.screen, EditorScreen) and app.screen.recipe.name == "arithmetic-sft"


# Item 3 ------------------------------------------------------------------------------------------
async def test_typing_on_the_list_at_human_speed_keeps_every_letter(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for key in "dpo":
            await pilot.press(key)
            await pilot.pause(0.3)  # a person's typing: the screen refreshes between keys
        assert app.screen.query_one("#recipe-filter").value == "dpo"
        assert {r.name for r in app.screen.query_one("#recipe-table").shown} == {"arithmetic-dpo", "my-dpo"}


# Item 11: the filter on leaving home, "/" in the filter --------------------------------------------
async def test_the_filter_clears_on_leaving_home_and_slash_is_not_typed_into_it(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", "m", "y", "slash", "-")
        filter_input = app.screen.query_one("#recipe-filter")
        assert filter_input.value == "my-"
        await pilot.press("enter")
        assert isinstance(app.screen, EditorScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query_one("#recipe-filter").value == ""
        assert len(app.screen.query_one("#recipe-table").shown) == len(FIXTURE_RECIPES)


# Item 2 ------------------------------------------------------------------------------------------
def burst(app, *keys: tuple[str, str | None]) -> None:
    """Keys as a terminal delivers a fast burst: all queued before the app handles the first
    (pilot.press waits for each key to be handled, which hides a reordering)."""
    from textual import events

    for key, character in keys:
        app.post_message(events.Key(key, character))


async def test_a_fast_key_burst_in_the_editor_is_applied_in_order(tmp_path: Path) -> None:
    recipe_file = saved_copy(tmp_path, "my-sft.toml")
    app = make_app(recipes_dir=tmp_path / "my-recipes")
    async with app.run_test(size=SIZE) as pilot:
        app.open_editor(FixtureRecipe("my-sft", recipe_file, "sl", "local", "", False))
        await pilot.pause()
        editor = app.screen.editor
        row = next(i for i, line in enumerate(editor.text.splitlines()) if line.startswith("learning_rate = 3e-3"))
        editor.move_cursor((row, len("learning_rate = 3e-3")))
        burst(app, *[("backspace", "\x7f")] * 4, ("1", "1"), ("e", "e"), ("minus", "-"), ("3", "3"))
        await pilot.pause(0.3)
        assert editor.document.get_line(row) == "learning_rate = 1e-3"
        editor.move_cursor((row, len(editor.document.get_line(row))))
        burst(app, ("space", " "), ("number_sign", "#"), ("space", " "), ("a", "a"), ("b", "b"), ("c", "c"),
              ("left", None), ("left", None), ("X", "X"))
        await pilot.pause(0.3)
        assert editor.document.get_line(row) == "learning_rate = 1e-3 # aXbc"


async def test_a_fast_burst_in_the_recipe_filter_is_applied_in_order(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        burst(app, ("g", "g"), ("u", "u"), ("x", "x"), ("backspace", "\x7f"), ("e", "e"), ("s", "s"), ("s", "s"))
        await pilot.pause(0.3)
        assert app.screen.query_one("#recipe-filter").value == "guess"


async def test_a_fast_slash_burst_lands_in_every_filter(in_fixtures) -> None:
    """`/abc` in one read: the filter must have the focus before `a` is handled (Textual's focus()
    waits behind the keys already queued, so they went to the table or the grid)."""
    from cookbook_tui.app.widgets.chart_grid import ChartGrid

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        burst(app, ("slash", "/"), ("g", "g"), ("u", "u"), ("e", "e"))
        await pilot.pause(0.3)
        assert app.screen.query_one("#recipe-filter").value == "gue"
        await pilot.press("escape")
        await pilot.press("ctrl+o")
        await runs_read(pilot)
        burst(app, ("slash", "/"), ("s", "s"), ("f", "f"), ("t", "t"))
        await pilot.pause(0.3)
        assert app.screen.query_one("#runs-filter").value == "sft"
        app.open_run(Path(SFT_RUN))
        await pilot.pause()
        burst(app, ("slash", "/"), ("n", "n"), ("l", "l"), ("l", "l"))
        await pilot.pause(0.3)
        assert app.screen.query_one(ChartGrid).query_one("#chart-filter").value == "nll"


# Item 4 ------------------------------------------------------------------------------------------
SFT_RUN = "run_dirs/arithmetic-sft/20261128-101500"


async def test_esc_in_the_chat_box_leaves_the_chat_not_the_run_screen(in_fixtures, tmp_path: Path) -> None:
    from cookbook_tui.screens.run import RunScreen

    recipe_file = saved_copy(tmp_path, "my-sft.toml")
    app = make_app(recipes_dir=tmp_path / "my-recipes")
    async with app.run_test(size=SIZE) as pilot:
        app.open_editor(FixtureRecipe("my-sft", recipe_file, "sl", "local", "", False))
        await pilot.pause()
        editor_text = app.screen.editor.text
        app.open_run(Path(SFT_RUN))
        await pilot.pause()
        await pilot.press("c", "h", "i")
        chat = app.screen.query_one("#checkpoint-chat")
        assert chat.display and app.screen.query_one("#chat-input").value == "hi"
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)
        assert not chat.display and app.focused is app.screen.query_one("#checkpoints-table")
        await pilot.press("z", "q", "x")  # keys a user types next go nowhere near the editor
        await pilot.press("escape")
        assert isinstance(app.screen, EditorScreen) and app.screen.editor.text == editor_text


# Item 8 (and 11: deleting a run removes its empty parent folder) ----------------------------------
async def test_runs_and_run_screens_are_reused_not_stacked(in_fixtures) -> None:
    from cookbook_tui.screens.run import RunScreen
    from cookbook_tui.screens.runs import RunsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):
            await pilot.press("ctrl+o")
            await runs_read(pilot)
            assert isinstance(app.screen, RunsScreen)
            await pilot.press("enter")
            assert isinstance(app.screen, RunScreen)
        app.open_run(app.screen.run_dir)  # the same run again (the palette, `open`)
        await pilot.pause()
        assert [type(s).__name__ for s in app.screen_stack] == ["RecipesScreen", "RunsScreen", "RunScreen"]


async def test_a_deleted_runs_screen_closes_and_its_empty_folder_goes(in_fixtures, tmp_path: Path) -> None:
    from cookbook_tui.screens.dialogs import ConfirmScreen
    from cookbook_tui.screens.recipes import RecipesScreen
    from cookbook_tui.screens.run import RunScreen

    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / SFT_RUN, runs / "arithmetic-sft" / "20261128-101500")
    app = make_app(runs_dir=runs, poll_interval=0.02)  # polls racing the close, as in a terminal
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(runs / "arithmetic-sft" / "20261128-101500")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await runs_read(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        app.screen.query_one("#yes").press()
        await pilot.pause()
        await runs_read(pilot)
        assert not (runs / "arithmetic-sft").exists() and runs.is_dir()
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, RunScreen)
        assert isinstance(app.screen, RecipesScreen)


# Item 9 ------------------------------------------------------------------------------------------
async def test_dialogs_show_their_whole_text(in_fixtures) -> None:
    from rich.cells import cell_len
    from textual.widgets import Button, Label

    from cookbook_tui.screens.dialogs import ConfirmScreen, QuitScreen

    long_path = "runs/" + LONG_NAME + "/20261128-113000"
    for size in ((80, 24),):
        for dialog in (QuitScreen(1),
                       ConfirmScreen(f"Stop the run in {long_path}? (SIGTERM; it can be resumed)", "Stop run")):
            app = make_app()
            async with app.run_test(size=size) as pilot:
                app.push_screen(dialog)
                await pilot.pause()
                box = app.screen.query_one(".dialog").content_region
                for label in app.screen.query(Label):
                    text = str(label.render())
                    region = label.region
                    assert box.contains_region(region), (size, text, region, box)
                    # every cell of the text has a place (wrapped lines, not a cropped one)
                    assert region.width * region.height >= cell_len(text), (size, text, region)
                for button in app.screen.query(Button):
                    assert box.contains_region(button.region), (size, str(button.label), button.region, box)
                if isinstance(dialog, QuitScreen):  # one run is "it"
                    words = " ".join(str(label.render()) for label in app.screen.query(Label)).split()
                    assert "them" not in words and "it" in words and "1 run is still training." in " ".join(words)


# Item 12 -----------------------------------------------------------------------------------------
async def test_the_app_started_to_edit_a_file_opens_it_in_the_editor(tmp_path: Path) -> None:
    from cookbook_tui.app.config import describe_recipe_file
    from cookbook_tui.app.cookbook_app import CookbookApp
    from cookbook_tui.screens.recipes import RecipesScreen

    from .factory import fixture_config

    recipe_file = saved_copy(tmp_path, "my SFT run.toml")
    app = CookbookApp(config=fixture_config(describe_recipe=describe_recipe_file), edit_recipe=recipe_file)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen)
        assert app.screen.path == recipe_file and app.screen.recipe.name == "arithmetic-sft"
        assert not app.screen.bundled and app.screen.editor.text == recipe_file.read_text()
        await pilot.press("escape")
        assert isinstance(app.screen, RecipesScreen)


# Item 11: the smaller ones ----------------------------------------------------------------------
def footer_keys(app) -> set[str]:
    return {binding.action for _, binding, enabled, _ in app.screen.active_bindings.values() if binding.show}


async def test_home_end_in_the_tables_and_the_final_checkpoint_shows_its_step(in_fixtures) -> None:
    from cookbook_tui.screens.runs import RunsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(Path(SFT_RUN))
        await pilot.pause()
        await pilot.press("3")
        table = app.screen.query_one("#checkpoints-table")
        assert [str(table.get_row_at(i)[1]) for i in range(table.row_count)] == ["20", "40", "60"]
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        app.push_screen(RunsScreen())
        await runs_read(pilot)
        runs = app.screen.query_one("#runs-table")
        assert runs.row_count >= 3
        await pilot.press("end")
        assert runs.cursor_row == runs.row_count - 1
        await pilot.press("home")
        assert runs.cursor_row == 0


async def test_stop_is_offered_only_for_a_live_run(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(Path(SFT_RUN))  # finished
        await pilot.pause()
        assert "stop_run" not in footer_keys(app)
        app.open_run(Path("run_dirs/arithmetic-rl/20261128-110000"))  # running (its pid is "alive")
        await pilot.pause()
        assert app.screen.effective_status().state == "running"
        assert "stop_run" in footer_keys(app)


async def test_tab_from_the_editor_highlights_the_first_problem(tmp_path: Path) -> None:
    recipe_file = saved_copy(tmp_path, "my-sft.toml")
    recipe_file.write_text(recipe_file.read_text().replace("learning_rate = 3e-3", "learning_rate = -1"))
    app = make_app(recipes_dir=tmp_path / "my-recipes")
    async with app.run_test(size=SIZE) as pilot:
        app.open_editor(FixtureRecipe("my-sft", recipe_file, "sl", "local", "", False))
        await pilot.pause()
        await pilot.press("tab")
        issues = app.screen.query_one("#issue-list")
        assert app.focused is issues and issues.highlighted == 0
        await pilot.press("enter")
        assert app.screen.editor.cursor_location[0] + 1 == app.screen.problems[0].line


async def test_the_samples_pane_gives_each_steps_total(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_run(Path(SFT_RUN))
        await pilot.pause()
        await pilot.press("2")
        pane = app.screen.query_one("#samples-pane")
        header = lambda: str(pane.query_one("#samples-header").render())  # noqa: E731
        step = pane.steps[pane.step_index]
        rows = [r for r in pane.samples if r["step"] == step]
        right = sum(1 for r in rows if r["reward"] == 1.0)
        assert f"{right}/{len(rows)} exact" in header(), header()
        while pane.step_index > 0:
            await pilot.press("left_square_bracket")
        assert "0/2 exact" in header(), header()  # step 0: the untrained model got none right



async def test_the_line_being_typed_stays_in_view_when_the_problem_list_opens(tmp_path: Path) -> None:
    """At 80x24 the problem list takes the editor's bottom rows when a problem appears: the
    cursor's line was left below the editor's view until the next key."""
    recipe_file = tmp_path / "long-lines.toml"  # wider than the editor: a horizontal scrollbar too
    recipe_file.write_text((FIXTURES / "recipes" / "arithmetic-sft.toml").read_text().replace(
        "\n", f"  # {'a comment wider than the editor ' * 3}\n", 3))
    app = make_app(recipes_dir=tmp_path / "my-recipes")
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_editor(FixtureRecipe("my-sft", recipe_file, "sl", "local", "", False))
        await pilot.pause()
        editor = app.screen.editor
        editor.move_cursor((0, 0))
        await pilot.pause()
        last_visible = editor.scroll_offset.y + editor.scrollable_content_region.height - 1
        editor.move_cursor((last_visible, 0))
        await pilot.pause()
        await pilot.press("end", "enter")
        await pilot.pause(0.5)
        await pilot.press("x")  # not TOML: the problem list opens below
        await wait_until(pilot, lambda: app.screen.problems, "the problem")
        await pilot.pause(0.2)
        row = editor.cursor_location[0]
        top = editor.scroll_offset.y
        assert top <= row < top + editor.scrollable_content_region.height, (row, top, editor.size)
