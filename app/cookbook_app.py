"""The App: screens, launched runs (each owned by a thread worker), quitting with runs alive."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from cookbook_tui.app.config import AppConfig, RecipeEntry
from cookbook_tui.app.messages import RunProcessExited
from cookbook_tui.app.run_launcher import (
    RunProcess,
    resume_command,
    run_command,
    start_run_process,
    stop_process,
)
from cookbook_tui.monitor.rundir_view import newest_run_dirs
from cookbook_tui.runners.rundir import new_run_dir, read_status, run_folder_name
from cookbook_tui.screens.dialogs import QuitScreen
from cookbook_tui.screens.worker_errors import ReportsWorkerErrors

PROCESS_POLL_S = 0.2
RUNS_CHECK_S = 2.0  # how often the app looks for watched runs that ended (a toast and the bell)


def cookbook_commands() -> type:
    """The palette's provider, imported when the palette first opens (textual.command is not
    needed for the first frame)."""
    from cookbook_tui.app.commands import CookbookCommands

    return CookbookCommands


class CookbookApp(ReportsWorkerErrors, App[None]):
    TITLE = "cookbook-tui"
    CSS_PATH = "cookbook.tcss"
    COMMANDS = App.COMMANDS | {cookbook_commands}

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+o", "show_runs", "Runs", id="app.runs"),
        Binding("ctrl+t", "show_remote", "Tinker", id="app.remote"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(
        self,
        config: AppConfig | None = None,
        open_run_dir: Path | None = None,
        compare_run_dirs: list[Path] | None = None,
        edit_recipe: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = config or AppConfig()
        self.open_run_dir = open_run_dir
        self.compare_run_dirs = compare_run_dirs
        self.edit_recipe = edit_recipe
        self.run_processes: dict[Path, RunProcess] = {}
        self.run_states: dict[Path, str] = {}  # the watched runs' last seen states

    def get_default_screen(self) -> Screen:
        from cookbook_tui.screens.recipes import RecipesScreen

        return RecipesScreen()

    def on_mount(self) -> None:
        if self.open_run_dir is not None:
            self.open_run(self.open_run_dir)
        if self.compare_run_dirs:
            from cookbook_tui.screens.compare import CompareScreen

            self.push_screen(CompareScreen(self.compare_run_dirs))
        if self.edit_recipe is not None:  # `cookbook-tui edit RECIPE.toml`; Esc goes to the list
            self.open_editor(self.config.describe_recipe(self.edit_recipe))
        self.check_runs()
        if self.config.poll_interval > 0:
            self.set_interval(RUNS_CHECK_S, lambda: self.check_runs_in_background(self.open_run_dirs()))

    # Watched runs: every run in the runs folder and every run open on a screen. One that was
    # running and no longer is gets a toast and the bell; the home screen counts those still going.
    def open_run_dirs(self) -> list[Path]:
        return [d for d in (getattr(screen, "run_dir", None) for screen in self.screen_stack) if isinstance(d, Path)]

    def read_run_states(self, open_run_dirs: list[Path]) -> dict[Path, str]:
        """Every watched run's state: file reads only, so the periodic check runs in a thread."""
        dirs = dict.fromkeys([*newest_run_dirs(self.config.runs_dir), *open_run_dirs])
        return {run_dir: read_status(run_dir, self.config.pid_alive).state for run_dir in dirs}

    def check_runs(self) -> None:
        """Check the watched runs now (at start, before the first frame's subtitle)."""
        self.apply_run_states(self.read_run_states(self.open_run_dirs()))

    @work(thread=True, exclusive=True, group="runs-check", exit_on_error=False, description="Checking the runs")
    def check_runs_in_background(self, open_run_dirs: list[Path]) -> None:
        states = self.read_run_states(open_run_dirs)
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.apply_run_states, states)

    def apply_run_states(self, states: dict[Path, str]) -> None:
        for run_dir, state in states.items():
            # a run this app started is announced by its exit (with the exit code), not here
            if self.run_states.get(run_dir) == "running" and state != "running" and run_dir not in self.run_processes:
                self.announce_end(run_dir, state)
        self.run_states = states
        going = sum(state == "running" for state in states.values())
        going = max(going, len(self.running_processes()))
        home = self.screen_stack[0] if self.screen_stack else None
        if home is not None:
            home.sub_title = f"{going} run{'s' if going != 1 else ''} still going (ctrl+o)" if going else ""

    def announce_end(self, run_dir: Path, state: str, detail: str = "") -> None:
        label = f"{run_dir.parent.name}/{run_dir.name}"
        failed = state != "finished"
        self.notify(f"Run {label} {state}{detail}.", severity="error" if failed else "information",
                    title="Run ended")
        if self.config.bell:
            self.bell()

    # Navigation. Screens are imported when first shown: the first frame loads only the recipes list.
    def open_editor(self, recipe: RecipeEntry) -> None:
        from cookbook_tui.screens.editor import EditorScreen

        try:
            self.push_screen(EditorScreen(recipe))
        except OSError as error:
            self.notify(f"Cannot open {recipe.path}: {error}", severity="error")

    def open_run(self, run_dir: Path) -> None:
        """Show a run's screen, reusing one already open for it: screens do not pile up."""
        from cookbook_tui.screens.run import RunScreen

        run_dir = Path(run_dir)
        if self.back_to(lambda screen: isinstance(screen, RunScreen) and screen.run_dir == run_dir):
            return
        if isinstance(self.screen, RunScreen) and self.screen.is_mounted:
            # One run screen in place of another (a screen still mounting cannot be replaced).
            self.switch_screen(RunScreen(run_dir))
        else:
            self.push_screen(RunScreen(run_dir))

    def action_show_runs(self) -> None:
        from cookbook_tui.screens.runs import RunsScreen

        if not self.back_to(lambda screen: isinstance(screen, RunsScreen)):
            self.push_screen(RunsScreen())

    def action_show_remote(self) -> None:
        from cookbook_tui.screens.remote import RemoteScreen

        if not self.back_to(lambda screen: isinstance(screen, RemoteScreen)):
            self.push_screen(RemoteScreen())

    def back_to(self, wanted: Callable[[Screen], bool]) -> bool:
        """Go back to the newest open screen that is `wanted`, when only run, runs, compare and
        Tinker screens lie above it (they hold nothing to lose; an editor above stays, so then no)."""
        from cookbook_tui.screens.compare import CompareScreen
        from cookbook_tui.screens.remote import RemoteScreen
        from cookbook_tui.screens.run import RunScreen
        from cookbook_tui.screens.runs import RunsScreen

        stack = self.screen_stack
        for index in range(len(stack) - 1, 0, -1):
            if wanted(stack[index]):
                above = stack[index + 1 :]
                if not all(isinstance(screen, (RunScreen, RunsScreen, CompareScreen, RemoteScreen)) for screen in above):
                    return False
                for _ in above:
                    self.pop_screen()
                return True
        return False

    def action_help(self) -> None:
        from cookbook_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def palette_extras(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """Beyond the bindings: edit any recipe and open any run by name, from anywhere."""
        extras: list[tuple[str, str, Callable[[], Any]]] = []
        try:
            recipes = list(self.config.list_recipes())
        except Exception:  # noqa: BLE001 - the recipes screen reports it; the palette just omits them
            recipes = []
        for recipe in recipes:
            extras.append((f"Edit recipe {recipe.name}", str(recipe.path), partial(self.open_editor, recipe)))
        for run_dir in newest_run_dirs(self.config.runs_dir)[:50]:
            label = f"{run_dir.parent.name}/{run_dir.name}"
            extras.append((f"Open run {label}", str(run_dir), partial(self.open_run, run_dir)))
        return extras

    # Runs: each process is started and owned by a thread worker
    def launch_run(self, recipe: Path, recipe_name: str) -> Path:
        # The same folder rule as `cookbook-tui --run` (runners.rundir.run_folder_name).
        run_dir = new_run_dir(self.config.runs_dir, run_folder_name(recipe, recipe_name), self.config.now())
        self.own_run(run_command(self.config.python, recipe, run_dir), run_dir)
        self.open_run(run_dir)
        return run_dir

    def resume_run(self, run_dir: Path) -> None:
        self.own_run(resume_command(self.config.python, run_dir), run_dir)
        self.open_run(run_dir)

    @work(thread=True, group="runs", exit_on_error=False, description="Running a recipe")
    def own_run(self, command: list[str], run_dir: Path) -> None:
        process = start_run_process(command, run_dir, self.config.runs_dir, self.config.run_env)
        self.run_processes[run_dir] = process
        worker = get_current_worker()
        # Poll rather than wait(): on quit the worker is cancelled and must return, leaving the run.
        while process.popen.poll() is None:
            if worker.is_cancelled:
                return
            time.sleep(PROCESS_POLL_S)
        self.post_message(RunProcessExited(run_dir, process.popen.returncode, process.output_tail()))

    @on(RunProcessExited)
    def run_exited(self, message: RunProcessExited) -> None:
        state = read_status(message.run_dir, self.config.pid_alive).state
        self.run_states[message.run_dir] = state
        if message.returncode == 0:
            self.announce_end(message.run_dir, state)
        else:
            self.announce_end(message.run_dir, "failed" if state == "running" else state,
                              f" (exit code {message.returncode})")

    def stop_run(self, run_dir: Path, pid: int | None) -> None:
        process = self.run_processes.get(run_dir)
        target = process.pid if process is not None and process.running() else pid
        if target and stop_process(target):
            self.notify(f"Stopping {run_dir.parent.name}/{run_dir.name}…")
        else:
            self.notify("That run is not running any more.", severity="warning")

    def running_processes(self) -> list[RunProcess]:
        return [process for process in self.run_processes.values() if process.running()]

    # Quitting never takes runs down by surprise (this replaces App.action_quit, so the palette's
    # "Quit" asks too)
    def action_quit(self) -> None:  # type: ignore[override]
        running = self.running_processes()
        if not running:
            self.exit()
            return

        def answered(choice: str | None) -> None:
            if choice == "stop":
                for process in running:
                    stop_process(process.pid)
            if choice in ("stop", "leave"):
                self.exit()

        self.push_screen(QuitScreen(len(running)), answered)
