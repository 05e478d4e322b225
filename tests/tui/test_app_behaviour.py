"""Pilot tests: the app's behaviour with fixture data and stand-in run processes (no training)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from textual.command import CommandList

from cookbook_tui.app.commands import CookbookCommands
from cookbook_tui.app.widgets.chart_grid import ChartGrid
from cookbook_tui.screens.dialogs import ConfirmScreen, QuitScreen
from cookbook_tui.screens.editor import EditorScreen
from cookbook_tui.screens.run import RunScreen
from cookbook_tui.screens.runs import RunsScreen

from .factory import FIXTURE_RECIPES, FIXTURES, FixtureRecipe, charted_keys, fake_python, make_app
from .waiting import runs_read, wait_until

SIZE = (120, 36)


def user_recipe(tmp_path: Path) -> FixtureRecipe:
    path = tmp_path / "my-recipes" / "my-sft.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "recipes" / "my-sft.toml", path)
    return FixtureRecipe("my-sft", path, "sl", "local", "mine", False)


async def runs_screen_at(pilot, chosen) -> RunsScreen:
    """Ctrl+O, the table read, and the cursor on the first run `chosen(row)` picks."""
    await pilot.press("ctrl+o")
    await runs_read(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunsScreen)
    screen.table.move_cursor(row=next(i for i, r in enumerate(screen.table.rows_shown) if chosen(r)))
    return screen


def process_gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_typing_on_the_list_filters_and_enter_opens_the_editor(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", "u", "e", "s", "s")
        table = app.screen.query_one("#recipe-table")
        assert [r.name for r in table.shown] == ["guess-number"]
        await pilot.press("enter")
        assert isinstance(app.screen, EditorScreen)
        assert app.screen.recipe.name == "guess-number"


async def test_editor_problem_list_jumps_to_the_line_and_save_keeps_comments(tmp_path: Path) -> None:
    recipe = user_recipe(tmp_path)
    app = make_app(recipes_dir=tmp_path / "my-recipes")
    async with app.run_test(size=SIZE) as pilot:
        app.open_editor(recipe)
        await pilot.pause()
        editor_screen = app.screen
        assert isinstance(editor_screen, EditorScreen)
        assert [p.line for p in editor_screen.problems] == [16]
        assert editor_screen.editor.problem_lines == {15}
        issue_list = editor_screen.query_one("#issue-list")
        issue_list.focus()
        issue_list.highlighted = 0
        await pilot.press("enter")
        assert editor_screen.editor.cursor_location[0] == 15
        # fix the value by typing over it, then save
        editor = editor_screen.editor
        line = editor.document.get_line(15)
        start = line.index("-1")
        editor.select_line(15)
        editor.move_cursor((15, start))
        editor.move_cursor((15, start + 2), select=True)
        await pilot.press("2", "e", "-", "3")
        await wait_until(pilot, lambda: editor_screen.validated_text == editor.text, "validation")
        assert editor_screen.problems == []
        await pilot.press("ctrl+s")
        saved = recipe.path.read_text()
        assert "learning_rate = 2e-3   # oops" in saved
        assert saved.startswith("# My SFT run: a higher learning rate than the bundled one.")
        assert not editor_screen.dirty


async def test_a_run_that_crashes_at_once_is_shown_failed_and_the_app_stays_up(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 'echo "ImportError: no module named nowhere" >&2; exit 3')
    app = make_app(runs_dir=tmp_path / "runs", python=python)
    async with app.run_test(size=SIZE) as pilot:
        run_dir = app.launch_run(FIXTURES / "recipes" / "arithmetic-sft.toml", "arithmetic-sft")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_until(pilot, lambda: run_dir in app.run_processes and not app.run_processes[run_dir].running(), "exit")
        screen.poll_run_dir()
        status = screen.effective_status()
        assert status.state == "failed"
        assert "no module named nowhere" in status.error
        assert screen.query_one("#run-failure").has_class("-shown")
        assert app.is_running


async def test_quitting_with_runs_in_progress_can_stop_them_all(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "exec sleep 60")
    app = make_app(runs_dir=tmp_path / "runs", python=python)
    async with app.run_test(size=SIZE) as pilot:
        run_dirs = [
            app.launch_run(FIXTURES / "recipes" / "arithmetic-sft.toml", "arithmetic-sft"),
            app.launch_run(FIXTURES / "recipes" / "arithmetic-rl.toml", "arithmetic-rl"),
        ]
        await wait_until(pilot, lambda: all(d in app.run_processes for d in run_dirs), "both runs to start")
        processes = [app.run_processes[d] for d in run_dirs]
        for process in processes:
            assert os.getpgid(process.pid) == process.pid  # own session: a UI crash cannot reach it
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitScreen)
        assert app.screen.running == 2
        await pilot.click("#stop")
        await pilot.pause()
    for process in processes:
        process.popen.wait(timeout=10)
        assert process.popen.returncode == -signal.SIGTERM


async def test_quitting_can_leave_a_run_running(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "exec sleep 60")
    app = make_app(runs_dir=tmp_path / "runs", python=python)
    async with app.run_test(size=SIZE) as pilot:
        run_dir = app.launch_run(FIXTURES / "recipes" / "arithmetic-sft.toml", "arithmetic-sft")
        await wait_until(pilot, lambda: run_dir in app.run_processes, "the run to start")
        process = app.run_processes[run_dir]
        await app.run_action("quit")  # what the palette's system "Quit" runs: it asks too
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.click("#leave")
        await pilot.pause()
    try:
        assert process.popen.poll() is None  # still training after the app is gone
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.popen.wait(timeout=10)


async def test_a_run_started_earlier_shows_live_after_a_restart_and_failed_once_gone(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run_dir = tmp_path / "runs" / "arithmetic-sft" / "20261128-100000"
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text(
        f'{{"state": "running", "pid": {sleeper.pid}, "started_at": "2026-11-28T10:00:00Z", '
        '"step": 3, "total_steps": 10, "backend": "local"}'
    )
    (run_dir / "metrics.jsonl").write_text('{"step": 0, "train_mean_nll": 3.0}\n')
    from cookbook_tui.common.procs import pid_alive

    app = make_app(runs_dir=tmp_path / "runs", pid_alive=pid_alive, open_run_dir=str(run_dir))
    try:
        async with app.run_test(size=SIZE):
            screen = app.screen
            assert isinstance(screen, RunScreen)
            assert screen.effective_status().state == "running"
            with (run_dir / "metrics.jsonl").open("a") as handle:
                handle.write('{"step": 1, "train_mean_nll": 2.5}\n')
            screen.poll_run_dir()
            assert screen.run_watch.metrics.columns["train_mean_nll"][1] == [3.0, 2.5]
            sleeper.kill()
            sleeper.wait()
            screen.poll_run_dir()
            assert screen.effective_status().state == "failed"
    finally:
        sleeper.kill()


async def test_runs_screen_deletes_only_after_confirmation(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    target = runs / "arithmetic-sft" / "20261128-101500"
    app = make_app(runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        table = (await runs_screen_at(pilot, lambda r: r.run_dir == target)).table
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#no")
        assert target.exists()
        await pilot.press("d")
        await pilot.click("#yes")
        await runs_read(pilot)
        assert not target.exists()
        assert target not in [r.run_dir for r in table.rows_shown]


async def test_the_runs_screen_reads_and_deletes_off_the_event_loop(tmp_path: Path, monkeypatch) -> None:
    """A slow disk holds up the worker, not the keys: while a read is stuck the filter still takes
    typing; the read and the delete run on another thread than the app's."""
    import threading

    import cookbook_tui.screens.runs as runs_module

    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    target = runs / "arithmetic-sft" / "20261128-101500"
    release, threads = threading.Event(), {"read": set(), "rmtree": set()}
    real_read, real_rmtree = runs_module.read_status, shutil.rmtree

    def slow_read(*args, **kwargs):
        threads["read"].add(threading.get_ident())
        release.wait(10)  # on the event loop (the old code) this would freeze the app for 10 s
        return real_read(*args, **kwargs)

    def rmtree(path, *args, **kwargs):
        threads["rmtree"].add(threading.get_ident())
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(runs_module, "read_status", slow_read)
    monkeypatch.setattr(runs_module.shutil, "rmtree", rmtree)
    app = make_app(runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        loop_thread = threading.get_ident()
        await pilot.press("ctrl+o")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await pilot.press("slash", *"sft")
        await pilot.pause()
        assert screen.query_one("#runs-filter").value == "sft" and not screen.loaded
        assert "reading the runs" in str(screen.query_one("#runs-folder").render())
        release.set()
        await runs_read(pilot)
        assert {r.run_dir.parent.name for r in screen.table.rows_shown} == {"arithmetic-sft"}
        await pilot.press("enter")  # the filter box hands the keys back to the table
        screen.table.move_cursor(row=next(i for i, r in enumerate(screen.table.rows_shown) if r.run_dir == target))
        await pilot.press("d")
        await pilot.click("#yes")
        await runs_read(pilot)
        assert not target.exists() and target not in [r.run_dir for r in screen.table.rows_shown]
    assert threads["read"] and loop_thread not in threads["read"]
    assert threads["rmtree"] and loop_thread not in threads["rmtree"]


async def test_a_delete_that_fails_is_reported_and_the_run_stays(tmp_path: Path, monkeypatch) -> None:
    import cookbook_tui.screens.runs as runs_module

    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    target = runs / "arithmetic-dpo" / "20261128-120000"

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(runs_module.shutil, "rmtree", refuse)
    app = make_app(runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        table = (await runs_screen_at(pilot, lambda r: r.run_dir == target)).table
        await pilot.press("d")
        await pilot.click("#yes")
        await runs_read(pilot)
        assert isinstance(app.screen, RunsScreen) and target.exists()
        assert target in [r.run_dir for r in table.rows_shown]
        assert [n.message for n in app._notifications] == [
            f"Deleting arithmetic-dpo/20261128-120000 failed: PermissionError: [Errno 13] Permission denied: '{target}'"
        ]


async def test_the_running_run_cannot_be_deleted(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await runs_screen_at(pilot, lambda r: r.status.state == "running")
        await pilot.press("d")
        assert isinstance(app.screen, RunsScreen)  # no confirmation: refused outright


async def test_command_palette_offers_every_action_of_the_screen(in_fixtures) -> None:
    app = make_app(open_run_dir="run_dirs/arithmetic-sft/20261128-101500")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        provider = CookbookCommands(app.screen)
        titles = {title for title, _, _ in provider.entries()}
        assert {"Smooth", "Log-Y", "Filter", "Zoom", "Pin", "X axis", "Chat with checkpoint", "Back", "Help", "Runs", "Quit"} <= titles
        assert "Stop run" not in titles  # the run finished: nothing to stop
        assert any(t.startswith("Open run arithmetic-dpo/") for t in titles)
        assert "Edit recipe my-dpo" in titles
        # and running one from the palette works
        await pilot.press("ctrl+p")
        await pilot.press(*"log-y")
        await wait_until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "palette hits")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one(ChartGrid).model.log_y == {"train_mean_nll"}  # the selected chart


async def test_help_opens_with_question_mark_and_lists_screen_keys(in_fixtures) -> None:
    app = make_app(open_run_dir="run_dirs/arithmetic-sft/20261128-101500")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        from cookbook_tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(".help-keys").render())
        assert "Smooth" in text and "Chat with checkpoint" in text
        assert "Stop run" not in text  # the run finished
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_resume_from_the_runs_screen_starts_the_runner_on_that_run_dir(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    failed = runs / "arithmetic-dpo" / "20261128-120000"
    args_file = tmp_path / "args"
    python = fake_python(tmp_path, f'echo "$@" > {args_file}')
    app = make_app(runs_dir=runs, python=python)
    async with app.run_test(size=SIZE) as pilot:
        await runs_screen_at(pilot, lambda r: r.run_dir == failed)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), "the run screen")
        assert app.screen.run_dir == failed
        await wait_until(pilot, lambda: args_file.exists() and args_file.read_text().strip(), "the runner to start")
    assert args_file.read_text().split() == ["-m", "cookbook_tui.cli", "--resume", str(failed), "--quiet"]


async def test_a_long_history_is_read_in_the_background_then_followed(tmp_path: Path, monkeypatch) -> None:
    import cookbook_tui.screens.run as run_module

    monkeypatch.setattr(run_module, "BACKGROUND_FIRST_READ_BYTES", 1000)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = "".join(f'{{"step": {s}, "train_mean_nll": {5.0 - s / 1000}}}\n' for s in range(3000))
    (run_dir / "metrics.jsonl").write_text(rows)
    app = make_app(open_run_dir=str(run_dir), poll_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_until(pilot, lambda: "train_mean_nll" in screen.run_watch.metrics.columns, "the history")
        assert len(screen.run_watch.metrics.columns["train_mean_nll"][0]) == 3000
        assert "train_mean_nll" in charted_keys(screen)
        with (run_dir / "metrics.jsonl").open("a") as handle:
            handle.write('{"step": 3000, "train_mean_nll": 1.0}\n')
        await wait_until(pilot, lambda: screen.run_watch.metrics.columns["train_mean_nll"][0][-1] == 3000, "the new row")


async def test_stopping_a_run_from_the_runs_screen_asks_then_sends_sigterm(tmp_path: Path) -> None:
    # A run started by someone else (not this app): only its pid in status.json is known.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    run_dir = tmp_path / "runs" / "arithmetic-rl" / "20261128-100000"
    run_dir.mkdir(parents=True)
    (run_dir / "status.json").write_text(
        f'{{"state": "running", "pid": {sleeper.pid}, "started_at": "2026-11-28T10:00:00Z", "workflow": "rl"}}'
    )
    from cookbook_tui.common.procs import pid_alive

    app = make_app(runs_dir=tmp_path / "runs", pid_alive=pid_alive)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+o")
            await runs_read(pilot)
            assert app.screen.table.rows_shown[0].status.state == "running"
            await pilot.press("x")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.click("#yes")
            await pilot.pause()
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    finally:
        sleeper.kill()


def test_opening_a_missing_run_dir_is_a_clear_error(tmp_path: Path, capsys) -> None:
    from cookbook_tui.cli.tui import run_tui

    assert run_tui(str(tmp_path / "nope")) == 2
    assert "no such run directory" in capsys.readouterr().err


async def test_a_recipe_saved_as_a_copy_is_listed_on_return(tmp_path: Path, in_fixtures) -> None:
    from cookbook_tui.screens.recipes import RecipesScreen

    saved: list = list(FIXTURE_RECIPES)
    app = make_app(recipes_dir=tmp_path / "my-recipes", list_recipes=lambda: saved)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"arithmetic-sft", "enter")
        editor_screen = app.screen
        assert isinstance(editor_screen, EditorScreen)
        await pilot.press("f2", "ctrl+u", *"my-copy", "enter")
        copy = tmp_path / "my-recipes" / "my-copy.toml"
        assert copy.read_text() == (FIXTURES / "recipes" / "arithmetic-sft.toml").read_text()
        saved.append(FixtureRecipe("my-copy", copy, "sl", "local", "my copy", False))
        await pilot.press("escape")
        assert isinstance(app.screen, RecipesScreen)
        assert "my-copy" in [r.name for r in app.screen.table.recipes]


async def test_samples_follow_new_steps_until_the_user_scrubs_back(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    samples = run_dir / "samples.jsonl"

    def add_step(step: int) -> None:
        with samples.open("a") as handle:
            for index in range(2):
                handle.write(
                    f'{{"step": {step}, "kind": "rollout", "prompt": "p{index}", "completion": "c{step}", '
                    f'"reward": 0.5, "segments": [["p{index}", 0], ["c{step}", 1]]}}\n'
                )

    add_step(0)
    app = make_app(open_run_dir=str(run_dir))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        pane = screen.query_one("#samples-pane")
        await pilot.press("2")
        assert pane.steps == [0]
        add_step(5)
        screen.poll_run_dir()
        await pilot.pause()
        assert pane.steps[pane.step_index] == 5  # followed the new step
        assert len(pane.query(".sample")) == 2
        await pilot.press("left_square_bracket")
        assert pane.steps[pane.step_index] == 0
        add_step(9)
        screen.poll_run_dir()
        await pilot.pause()
        assert pane.steps[pane.step_index] == 0  # stays where the user put it
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert pane.steps[pane.step_index] == 9


async def test_the_periodic_runs_check_reads_off_the_event_loop(tmp_path: Path, monkeypatch) -> None:
    """Every 2 s the app reads every watched run's status (a toast and the bell when one ends):
    those reads run on a worker thread, and the result is applied on the app's."""
    import json
    import threading

    import cookbook_tui.app.cookbook_app as app_module

    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    status_file = runs / "arithmetic-rl" / "20261128-110000" / "status.json"
    readers: set[int] = set()
    real_read = app_module.read_status

    def read_status(*args, **kwargs):
        readers.add(threading.get_ident())
        return real_read(*args, **kwargs)

    app = make_app(runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.sub_title == "1 run still going (ctrl+o)"
        monkeypatch.setattr(app_module, "read_status", read_status)
        status_file.write_text(json.dumps(dict(json.loads(status_file.read_text()), state="finished")))
        app.check_runs_in_background(app.open_run_dirs())
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert readers and threading.get_ident() not in readers
        assert [n.message for n in app._notifications] == ["Run arithmetic-rl/20261128-110000 finished."]
        assert app.screen.sub_title == ""
