"""Every run under the runs folder; open, resume, stop, delete, and mark runs to compare."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from cookbook_tui.app.rundir_view import METRICS_FILE, find_run_dirs, last_jsonl_row, read_status
from cookbook_tui.app.widgets.runs_table import RunRow, RunsTable
from cookbook_tui.screens.dialogs import ConfirmScreen
from cookbook_tui.screens.worker_errors import ReportsWorkerErrors

REFRESH_EVERY_S = 2.0


def started_then_name(row: RunRow) -> tuple[float, str]:
    started = row.status.started_at
    return (started.timestamp() if started else float("-inf"), str(row.run_dir))


def remove_empty_parent(run_dir: Path, runs_dir: Path) -> None:
    """runs/<recipe>/ goes with its last run (the runs folder itself stays)."""
    parent = run_dir.parent
    if parent.resolve() != Path(runs_dir).resolve():
        try:
            parent.rmdir()  # only if empty
        except OSError:
            pass


class RunsScreen(ReportsWorkerErrors, Screen[None]):
    TITLE = "Runs"

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", id="runs.mark"),
        Binding("c", "compare", "Compare marked", id="runs.compare"),
        Binding("r", "resume", "Resume", id="runs.resume"),
        Binding("x", "stop", "Stop", id="runs.stop"),
        Binding("d", "delete", "Delete", id="runs.delete"),
        Binding("ctrl+l", "reload", "Reload", id="runs.reload"),
        Binding("escape", "back", "Back", id="runs.back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-folder")
        yield RunsTable(self.app.config.runs_dir, id="runs-table")  # type: ignore[attr-defined]
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.table.focus()
        if self.app.config.poll_interval > 0:  # type: ignore[attr-defined]
            self.set_interval(REFRESH_EVERY_S, self.action_reload)

    def on_screen_resume(self) -> None:
        self.action_reload()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def action_reload(self) -> None:
        config = self.app.config  # type: ignore[attr-defined]
        rows = []
        for run_dir in find_run_dirs(config.runs_dir):
            last = last_jsonl_row(run_dir / METRICS_FILE)
            step = last["step"] + 1 if isinstance(last.get("step"), int) else None  # steps done
            rows.append(RunRow(run_dir, read_status(run_dir, config.pid_alive), last, step))
        # Newest first by start time; runs without a status (tinker-cookbook alone) go last.
        rows.sort(key=started_then_name, reverse=True)
        self.table.set_runs(rows)
        marked = len(self.table.marked)
        self.query_one("#runs-folder", Static).update(
            f" {len(rows)} run{'s' if len(rows) != 1 else ''} in {config.runs_dir}"
            + (f"   {marked} marked (c compares them)" if marked else "")
        )

    @on(DataTable.RowSelected, "#runs-table")
    def open_run(self) -> None:
        row = self.table.selected
        if row is not None:
            self.app.open_run(row.run_dir)  # type: ignore[attr-defined]

    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor_down()
        self.action_reload()

    def action_compare(self) -> None:
        marked = [row.run_dir for row in self.table.rows_shown if row.run_dir in self.table.marked]
        if len(marked) < 2:
            self.notify("Mark two or more runs (space) to compare them.", severity="warning")
            return
        from cookbook_tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(marked))

    def action_resume(self) -> None:
        row = self.table.selected
        if row is None:
            return
        if row.status.is_active:
            self.notify("That run is still running.", severity="warning")
            return
        if row.status.state == "finished":
            self.notify("That run finished; nothing to resume.", severity="warning")
            return
        self.app.resume_run(row.run_dir)  # type: ignore[attr-defined]

    def action_stop(self) -> None:
        row = self.table.selected
        if row is None or not row.status.is_active or not row.status.pid:
            self.notify("Only a running run can be stopped.", severity="warning")
            return
        pid = row.status.pid
        self.app.push_screen(
            ConfirmScreen(f"Stop {self.table.label(row.run_dir)}? (SIGTERM; it can be resumed)", "Stop run"),
            lambda yes: self.app.stop_run(row.run_dir, pid) if yes else None,  # type: ignore[attr-defined]
        )

    def action_delete(self) -> None:
        row = self.table.selected
        if row is None:
            return
        if row.status.is_active:
            self.notify("Stop the run before deleting it.", severity="warning")
            return

        def delete(yes: bool | None) -> None:
            if not yes:
                return
            shutil.rmtree(row.run_dir, ignore_errors=False)
            remove_empty_parent(row.run_dir, self.app.config.runs_dir)  # type: ignore[attr-defined]
            self.notify(f"Deleted {row.run_dir}")
            self.action_reload()

        self.app.push_screen(
            ConfirmScreen(f"Delete {self.table.label(row.run_dir)} and everything in it?", "Delete"), delete
        )

    def action_back(self) -> None:
        self.dismiss()
