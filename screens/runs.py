"""Every run under the runs folder; open, resume, stop, delete, mark runs to compare; sort by any
column (`s`, or click its header), filter (`/`).

Reading the runs (every run's status and new metrics rows) and deleting one touch the disk, so
they run in a thread worker and come back as messages: a slow disk or a big runs folder never
holds up the keys. Sorting, filtering and marking work on the rows last read, with no file access.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from cookbook_tui.app.messages import RunDeleted, RunsRead
from cookbook_tui.app.widgets.in_order_keys import focus_now, open_filter_in_order
from cookbook_tui.app.widgets.runs_table import COLUMNS, RunRow, RunsTable, sort_value
from cookbook_tui.monitor.run_compare import ConfigCache
from cookbook_tui.monitor.run_filter import RunFacts, matches, parse_filter
from cookbook_tui.monitor.rundir_view import (
    MetricsDigest,
    cost_so_far,
    eta_seconds,
    newest_run_dirs,
    projected_cost,
    run_alarms,
    run_seconds,
)
from cookbook_tui.runners.run_notes import read_notes
from cookbook_tui.runners.rundir import METRICS_FILE, read_status
from cookbook_tui.screens.base import CookbookScreen
from cookbook_tui.screens.dialogs import ConfirmScreen
from cookbook_tui.screens.run_notes import ask_note, ask_tags

REFRESH_EVERY_S = 2.0


def started_then_name(row: RunRow) -> tuple[float, str]:
    started = row.status.started_at
    return (started.timestamp() if started else float("-inf"), str(row.run_dir))


def read_run_rows(runs_dir: Path, digests: dict[Path, MetricsDigest], pid_alive: Callable[[int | None], bool],
                  now: datetime, configs: ConfigCache | None = None) -> list[RunRow]:
    """A table row for every run under `runs_dir`, newest first. Each run's metrics are followed
    incrementally through its digest in `digests` (kept between reads): a reload reads only new rows;
    its config (for the filter's `lr>1e-3`) is read again only when its files change."""
    rows = []
    configs = configs if configs is not None else ConfigCache()
    for run_dir in newest_run_dirs(runs_dir):
        digest = digests.get(run_dir) or digests.setdefault(run_dir, MetricsDigest(run_dir / METRICS_FILE))
        digest.poll()
        status = read_status(run_dir, pid_alive)
        cost = cost_so_far(digest.last_row)
        rows.append(RunRow(
            run_dir, status, digest.last_row, digest.steps_done,
            run_seconds(status, digest, now), eta_seconds(status, digest, now),
            alarms=run_alarms(status, run_dir / METRICS_FILE, digest.alarms, digest.steps_done,
                              digest.seconds_per_step(now.timestamp()), now),
            cost=cost, cost_at_end=projected_cost(cost, digest.steps_done, status.total_steps),
            notes=read_notes(run_dir), config=configs.get(run_dir),
        ))
    return rows


def row_facts(row: RunRow, label: str) -> RunFacts:
    """What the filter matches a row on."""
    status = row.status
    words = " ".join(str(x) for x in (label, status.state, status.recipe, status.workflow, status.backend,
                                      status.model, row.notes.note) if x)
    return RunFacts(words, status.state, status.workflow or "", status.backend or "", row.notes.tags,
                    row.config, row.last_metrics)


def remove_empty_parent(run_dir: Path, runs_dir: Path) -> None:
    """runs/<recipe>/ goes with its last run (the runs folder itself stays)."""
    parent = run_dir.parent
    if parent.resolve() != Path(runs_dir).resolve():
        try:
            parent.rmdir()  # only if empty
        except OSError:
            pass


class RunsScreen(CookbookScreen):
    TITLE = "Runs"

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark", id="runs.mark"),
        Binding("c", "compare", "Compare marked", id="runs.compare"),
        Binding("r", "resume", "Resume", id="runs.resume"),
        Binding("x", "stop", "Stop", id="runs.stop"),
        Binding("d", "delete", "Delete", id="runs.delete"),
        Binding("s", "sort", "Sort", id="runs.sort"),
        Binding("n", "note", "Note", show=False, id="runs.note"),
        Binding("number_sign", "tags", "Tags", show=False, id="runs.tags"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("ctrl+l", "reload", "Reload", id="runs.reload"),
        Binding("escape", "back", "Back", id="runs.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.digests: dict[Path, MetricsDigest] = {}  # the reading worker's: used under file_lock
        self.configs = ConfigCache()  # likewise
        # One worker at a time touches the run dirs: a read never sees a half-deleted run.
        self.file_lock = threading.Lock()
        self.runs: list[RunRow] = []  # as last read, before the filter and the sort
        self.loaded = False  # the first read has come back
        self.reading: Worker[None] | None = None
        self.read_again = False  # a reload was asked for while a read was under way
        self.sort_column: str | None = None  # None: newest first
        self.sort_reverse = False
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-folder")
        yield Input(placeholder="filter: words, tag:NAME, state:running, lr>1e-3, model.lora_rank=32 (all must match); Esc clears",
                    id="runs-filter")
        yield RunsTable(self.app.config.runs_dir, id="runs-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-filter", Input).display = False
        self.show_runs()
        self.action_reload()
        self.table.focus()
        if self.app.config.poll_interval > 0:
            self.set_interval(REFRESH_EVERY_S, self.action_reload)

    def on_screen_resume(self) -> None:
        self.action_reload()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def action_reload(self) -> None:
        """Read the runs again in the worker; asked during a read, one more read follows it."""
        if self.reading is not None and self.reading.state in (WorkerState.PENDING, WorkerState.RUNNING):
            self.read_again = True
            return
        self.reading = self.read_runs()

    @work(thread=True, group="runs-read", exit_on_error=False, description="Reading the runs")
    def read_runs(self) -> None:
        config = self.app.config
        with self.file_lock:
            rows = read_run_rows(config.runs_dir, self.digests, config.pid_alive, config.now(), self.configs)
        self.post_message(RunsRead(rows))

    @on(RunsRead)
    def runs_read(self, message: RunsRead) -> None:
        self.runs, self.loaded, self.reading = message.rows, True, None
        self.show_runs()
        if self.read_again:
            self.read_again = False
            self.action_reload()

    def show_runs(self) -> None:
        """The rows last read, filtered and sorted, into the table (no file is read here)."""
        config = self.app.config
        rows = list(self.runs)
        total = len(rows)
        terms, problems = parse_filter(self.filter_text)
        if terms:
            rows = [row for row in rows if matches(terms, row_facts(row, self.table.label(row.run_dir)))]
        if self.sort_column is None:
            # Newest first by start time; runs without a status (tinker-cookbook alone) go last.
            rows.sort(key=started_then_name, reverse=True)
        else:
            keyed = [(sort_value(r, self.sort_column, self.table.label(r.run_dir)), r) for r in rows]
            present = sorted((k for k in keyed if not k[0][0]), key=lambda k: k[0], reverse=self.sort_reverse)
            rows = [r for _, r in present] + [r for k, r in keyed if k[0]]  # runs without a value go last
        self.table.set_runs(rows)
        marked = len(self.table.marked)
        shown = f"{len(rows)} of {total}" if self.filter_text else f"{total}"
        order = "newest first" if self.sort_column is None else (
            f"by {dict(COLUMNS)[self.sort_column]}" + (" ▼" if self.sort_reverse else " ▲"))
        if not self.loaded:
            self.query_one("#runs-folder", Static).update(f" reading the runs in {config.runs_dir}…")
            return
        self.query_one("#runs-folder", Static).update(
            f" {shown} run{'s' if total != 1 else ''} in {config.runs_dir}, {order}"
            + (f"   filter: {self.filter_text}" if self.filter_text else "")
            + (f"   ({'; '.join(problems)}: left out)" if problems else "")
            + (f"   {marked} marked (c compares them)" if marked else "")
        )

    def action_sort(self) -> None:
        """`s`: sort by the next column (newest first after the last)."""
        keys = [key for key, _ in COLUMNS]
        if self.sort_column is None:
            self.sort_column = keys[0]
        else:
            index = keys.index(self.sort_column) + 1
            self.sort_column = keys[index] if index < len(keys) else None
        self.sort_reverse = False
        self.show_runs()

    @on(DataTable.HeaderSelected, "#runs-table")
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column == "mark":
            return
        self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column = column
        self.show_runs()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        focus_now(box)

    @on(Input.Changed, "#runs-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.show_runs()

    @on(Input.Submitted, "#runs-filter")
    def filter_submitted(self) -> None:
        self.table.focus()

    def on_key(self, event) -> None:
        box = self.query_one("#runs-filter", Input)
        if open_filter_in_order(event, box, self.action_filter):
            return
        if event.key == "escape" and box.has_focus:
            event.stop()
            event.prevent_default()
            box.value = ""
            self.filter_text = ""
            box.display = False
            self.table.focus()
            self.show_runs()

    @on(DataTable.RowSelected, "#runs-table")
    def open_run(self) -> None:
        row = self.table.selected
        if row is not None:
            self.app.open_run(row.run_dir)

    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor_down()
        self.show_runs()

    def action_compare(self) -> None:
        marked = [row.run_dir for row in self.table.rows_shown if row.run_dir in self.table.marked]
        if len(marked) < 2:
            self.notify("Mark two or more runs (space) to compare them.", severity="warning")
            return
        from cookbook_tui.monitor.run_compare import MAX_RUNS
        from cookbook_tui.screens.compare import CompareScreen

        if len(marked) > MAX_RUNS:
            self.notify(f"Comparing the first {MAX_RUNS} of the {len(marked)} marked runs.", severity="warning")

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
        self.app.resume_run(row.run_dir)

    def action_stop(self) -> None:
        row = self.table.selected
        if row is None or not row.status.is_active or not row.status.pid:
            self.notify("Only a running run can be stopped.", severity="warning")
            return
        pid = row.status.pid
        self.app.push_screen(
            ConfirmScreen(f"Stop {self.table.label(row.run_dir)}? (SIGTERM; it can be resumed)", "Stop run"),
            lambda yes: self.app.stop_run(row.run_dir, pid) if yes else None,
        )

    def action_delete(self) -> None:
        row = self.table.selected
        if row is None:
            return
        if row.status.is_active:
            self.notify("Stop the run before deleting it.", severity="warning")
            return

        label = self.table.label(row.run_dir)

        def delete(yes: bool | None) -> None:
            if yes:
                self.run_worker(lambda: self.delete_run(row.run_dir), thread=True, group="runs-delete",
                                exit_on_error=False, description=f"Deleting {label}")

        self.app.push_screen(ConfirmScreen(f"Delete {label} and everything in it?", "Delete"), delete)

    def delete_run(self, run_dir: Path) -> None:
        """In a worker: the run's folder, and runs/<recipe>/ when it was the last one there."""
        with self.file_lock:
            shutil.rmtree(run_dir)
            self.digests.pop(run_dir, None)
            remove_empty_parent(run_dir, self.app.config.runs_dir)
        self.post_message(RunDeleted(run_dir))

    @on(RunDeleted)
    def run_deleted(self, message: RunDeleted) -> None:
        self.notify(f"Deleted {message.run_dir}")
        self.action_reload()

    def action_note(self) -> None:
        row = self.table.selected
        if row is not None:
            ask_note(self, row.run_dir, row.notes, self.action_reload)

    def action_tags(self) -> None:
        row = self.table.selected
        if row is not None:
            ask_tags(self, row.run_dir, row.notes, self.action_reload)

    def action_back(self) -> None:
        self.dismiss()
