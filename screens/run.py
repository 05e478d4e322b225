"""One run, live: status, every metric in a chart grid, samples, checkpoints, log, failure.

Everything comes from the run dir, polled on a steady timer; each poll reads only what was
appended since the last (see `RunWatch`), and the visible charts are redrawn at most once a poll.
The grid's inspect cursor drives the samples pane: it shows the step under the cursor.
"""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Log, TabbedContent, TabPane

from cookbook_tui.app.messages import ChartCursorMoved, CheckpointReply, RunDirRead
from cookbook_tui.app.printable import printable
from cookbook_tui.app.widgets.chart_grid import ChartGrid
from cookbook_tui.app.widgets.checkpoint_chat import CheckpointChat
from cookbook_tui.app.widgets.checkpoints_table import CheckpointsTable
from cookbook_tui.app.widgets.failure_view import FailureView
from cookbook_tui.app.widgets.run_status_bar import RunStatusBar
from cookbook_tui.app.widgets.samples_pane import SamplesPane
from cookbook_tui.monitor.chart_grid_model import ChartRun
from cookbook_tui.monitor.chart_model import run_colour
from cookbook_tui.monitor.layouts import run_layout_kind
from cookbook_tui.monitor.rundir_view import (
    RunWatch,
    cost_so_far,
    preview_metrics,
    recent_seconds_per_step,
    run_alarms,
)
from cookbook_tui.runners.run_notes import read_notes
from cookbook_tui.runners.rundir import EXITED_WITHOUT_STATUS, METRICS_FILE, RunStatus
from cookbook_tui.screens.base import CookbookScreen
from cookbook_tui.screens.dialogs import ConfirmScreen
from cookbook_tui.screens.export_report import export_report
from cookbook_tui.screens.run_notes import ask_note, ask_tags

LOG_LINES_KEPT = 2000
# A metrics.jsonl bigger than this (~25k rows) is first read in a worker so the screen comes up at
# once; smaller ones are read before the first frame, which then already shows the curves.
BACKGROUND_FIRST_READ_BYTES = 4 * 1024 * 1024
PREVIEW_BYTES = 1024 * 1024  # the tail drawn while the history is read


class RunScreen(CookbookScreen):
    TITLE = "Run"

    BINDINGS = [
        Binding("r", "toggle_side_samples", "Samples beside", id="run.side_samples"),
        Binding("x", "stop_run", "Stop run", id="run.stop"),
        Binding("c", "chat", "Chat with checkpoint", id="run.chat"),
        Binding("n", "note", "Note", show=False, id="run.note"),
        Binding("number_sign", "tags", "Tags", show=False, id="run.tags"),
        Binding("e", "export", "Export report (HTML, CSV)", show=False, id="run.export"),
        Binding("1", "show_tab('curves')", "Curves", show=False, id="run.tab.curves"),
        Binding("2", "show_tab('samples')", "Samples", show=False, id="run.tab.samples"),
        Binding("3", "show_tab('checkpoints')", "Checkpoints", show=False, id="run.tab.checkpoints"),
        Binding("4", "show_tab('log')", "Log", show=False, id="run.tab.log"),
        Binding("escape", "back", "Back", id="run.back"),
    ]

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.run_watch: RunWatch | None = None
        self.seen_samples = 0
        self.seen_checkpoints = 0
        self.chart_run = ChartRun("", run_colour(0))
        self.shown_state: str | None = None
        self.closing = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunStatusBar(id="run-status")
        yield FailureView(id="run-failure")
        with TabbedContent(initial="curves", id="run-tabs"):
            with TabPane("Curves", id="curves"):
                with Horizontal(id="curves-row"):
                    yield ChartGrid(id="chart-grid", follow=True)  # a new run screen follows the newest step
                    # the samples at the cursor's step beside the charts (`r`), for RL its rollout groups
                    yield SamplesPane(id="curves-samples")
            with TabPane("Samples", id="samples"):
                yield SamplesPane(id="samples-pane")
            with TabPane("Checkpoints", id="checkpoints"):
                yield CheckpointsTable(id="checkpoints-table")
                yield CheckpointChat(id="checkpoint-chat")
            with TabPane("Log", id="log"):
                yield Log(id="run-log", max_lines=LOG_LINES_KEPT, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        self.show_notes()
        self.query_one(CheckpointChat).display = False
        self.query_one("#curves-samples", SamplesPane).display = False
        grid = self.query_one(ChartGrid)
        grid.set_runs([self.chart_run])
        grid.focus()
        self.run_watch = RunWatch(self.run_dir, pid_alive=self.app.config.pid_alive)
        try:
            big = (self.run_dir / METRICS_FILE).stat().st_size > BACKGROUND_FIRST_READ_BYTES
        except OSError:
            big = False
        if big:
            # The whole history is read in a worker; meanwhile the grid draws the latest rows.
            preview = preview_metrics(self.run_dir / METRICS_FILE, PREVIEW_BYTES)
            self.chart_run.columns = preview.columns
            grid.message = f"the last {preview.rows:,} rows; reading the whole history…"
            # the worker holds the GIL for seconds: start it once the preview is on screen
            grid.after_first_draw = self.read_history
            grid.data_changed()
        else:
            self.poll_run_dir()
            self.start_polling()

    def start_polling(self) -> None:
        interval = self.app.config.poll_interval
        if interval > 0:
            self.set_interval(interval, self.poll_run_dir)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="Reading the run's metrics")
    def read_history(self) -> None:
        assert self.run_watch is not None
        changed = self.run_watch.poll()
        self.post_message(RunDirRead(changed))

    @on(RunDirRead)
    def history_read(self, message: RunDirRead) -> None:
        self.query_one(ChartGrid).message = ""
        self.show_changes(message.changed)
        self.start_polling()

    def effective_status(self) -> RunStatus:
        """status.json, unless this app started the run and its process has not written one yet
        (a new run, or a resumed one whose status.json is still the previous attempt's)."""
        assert self.run_watch is not None
        status = self.run_watch.status
        process = self.app.run_processes.get(self.run_dir)
        if process is None:
            return status
        if status.pid == process.pid:
            if status.state == "failed" and status.error == EXITED_WITHOUT_STATUS and not process.running():
                # We started it, so we know how it ended: say so (a signal means it was killed).
                return replace(status, error=f"{status.error} ({exit_description(process.popen.returncode)})")
            return status
        if process.running():
            return replace(status, state="starting", pid=process.pid, error=None)
        return replace(
            status,
            state="failed",
            pid=process.pid,
            error=f"the run exited ({process.popen.returncode}) before writing its status:\n"
            + process.output_tail(),
        )

    def poll_run_dir(self) -> None:
        assert self.run_watch is not None
        if not self.run_dir.is_dir():
            self.close_deleted()
            return
        self.show_changes(self.run_watch.poll())

    def on_screen_resume(self) -> None:
        if not self.run_dir.is_dir():
            self.close_deleted()

    def close_deleted(self) -> None:
        """The run dir was deleted (from the Runs screen, or by hand): say so and close, rather
        than show an empty run as UNKNOWN."""
        # is_active: the top of the stack (is_current is also true under another full screen)
        if self.is_active and not self.closing:
            self.closing = True  # a poll may come before the dismissal completes: close once
            self.notify(f"The run folder {self.run_dir} no longer exists (deleted).", severity="warning")
            self.dismiss()

    def show_changes(self, changed: set[str]) -> None:
        assert self.run_watch is not None
        status = self.effective_status()
        if status.state != self.shown_state:
            self.shown_state = status.state
            self.refresh_bindings()  # the footer's "Stop run" follows the state
        metrics = self.run_watch.metrics
        now = self.app.config.now()
        pace = recent_seconds_per_step(metrics.columns)
        alarms = run_alarms(status, self.run_dir / METRICS_FILE, metrics.alarms, metrics.steps_done(), pace, now)
        self.query_one(RunStatusBar).show(status, self.run_dir, now, metrics.steps_done(), pace, alarms,
                                          cost_so_far(metrics.last_row))
        self.query_one(FailureView).show_error(status.error if status.state == "failed" else None)
        if "metrics" in changed or "status" in changed or "rollouts" in changed:
            self.chart_run.columns = metrics.columns
            self.chart_run.workflow = status.workflow
            self.chart_run.distributions = self.run_watch.rollouts.distributions
            grid = self.query_one(ChartGrid)
            if grid.layout_kind is None and (kind := run_layout_kind(self.run_dir, status.workflow)):
                grid.use_layouts(self.app.config.layouts_file, kind)  # the layout saved for its kind
            grid.data_changed()
        if "samples" in changed:
            cursor = self.query_one(ChartGrid).model.cursor
            for pane in self.query(SamplesPane):
                pane.add_samples(self.run_watch.samples[self.seen_samples :])
                if cursor is not None:  # the cursor's step, not a newer one whose metrics are not in yet
                    pane.show_step_at(cursor)
            self.seen_samples = len(self.run_watch.samples)
        if "checkpoints" in changed:
            self.query_one(CheckpointsTable).add_checkpoints(self.run_watch.checkpoints[self.seen_checkpoints :])
            self.seen_checkpoints = len(self.run_watch.checkpoints)
        if "log" in changed:
            # The Log widget keeps the last LOG_LINES_KEPT lines; the watch keeps none.
            new_lines = self.run_watch.take_log_lines()
            self.query_one("#run-log", Log).write_lines([printable(line) for line in new_lines])

    @on(ChartCursorMoved)
    def cursor_moved(self, message: ChartCursorMoved) -> None:
        for pane in self.query(SamplesPane):
            pane.show_step_at(message.step)

    def action_toggle_side_samples(self) -> None:
        pane = self.query_one("#curves-samples", SamplesPane)
        pane.display = not pane.display
        self.query_one(ChartGrid).focus()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus_target = {"curves": "#chart-grid", "samples": "#samples-pane", "checkpoints": "#checkpoints-table", "log": "#run-log"}.get(tab)
        if focus_target:
            self.query_one(focus_target).focus()

    def show_notes(self) -> None:
        """The run dir in the title bar, with the run's tags and note after it."""
        notes = read_notes(self.run_dir).summary()
        self.sub_title = f"{self.run_dir}  {notes}" if notes else str(self.run_dir)

    def action_note(self) -> None:
        ask_note(self, self.run_dir, read_notes(self.run_dir), self.show_notes)

    def action_tags(self) -> None:
        ask_tags(self, self.run_dir, read_notes(self.run_dir), self.show_notes)

    def action_export(self) -> None:
        export_report(self, [self.run_dir], f"{self.run_dir.parent.name}-{self.run_dir.name}")

    def action_back(self) -> None:
        self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_run" and self.run_watch is not None:
            # "x Stop run" is offered only while there is something to stop.
            return self.effective_status().state in ("running", "starting")
        return True

    def action_stop_run(self) -> None:
        status = self.effective_status()
        if status.state not in ("running", "starting") or not status.pid:
            self.notify("This run is not running.", severity="warning")
            return
        self.app.push_screen(
            ConfirmScreen(f"Stop the run in {self.run_dir}? (SIGTERM; it can be resumed)", "Stop run"),
            lambda yes: self.app.stop_run(self.run_dir, status.pid) if yes else None,
        )

    # Chat with a checkpoint: a worker asks the checkpoint's OpenAI-compatible endpoint (the
    # local engine in a child process, or Tinker's) with the conversation so far.
    def action_chat(self) -> None:
        self.action_show_tab("checkpoints")
        checkpoint = self.query_one(CheckpointsTable).selected
        if checkpoint is None or not checkpoint.get("sampler_path"):
            self.notify("Pick a checkpoint that has a sampler path.", severity="warning")
            return
        chat = self.query_one(CheckpointChat)
        chat.display = True
        chat.start(str(checkpoint["sampler_path"]), str(checkpoint.get("name")))
        chat.query_one(Input).focus()

    @on(CheckpointChat.Left)
    def chat_left(self) -> None:
        self.query_one(CheckpointsTable).focus()

    @on(Input.Submitted, "#chat-input")
    def chat_prompt(self, event: Input.Submitted) -> None:
        chat = self.query_one(CheckpointChat)
        prompt = event.value.strip()
        if not prompt or chat.sampler_path is None:
            return
        event.input.value = ""
        self.sample_checkpoint(chat.sampler_path, chat.ask(prompt))

    @work(thread=True, exclusive=True, group="chat", exit_on_error=False, description="Sampling the checkpoint")
    def sample_checkpoint(self, sampler_path: str, history: list[dict[str, str]]) -> None:
        from cookbook_tui.monitor.checkpoint_sampling import ChatUnavailable, sample_reply

        prompt = history[-1]["content"]
        try:
            reply = sample_reply(self.run_dir, sampler_path, history)
        except ChatUnavailable as exc:  # shown in the chat box, where the user is looking
            self.post_message(CheckpointReply(prompt, "", error=str(exc)))
            return
        self.post_message(CheckpointReply(prompt, reply))

    @on(CheckpointReply)
    def chat_reply(self, message: CheckpointReply) -> None:
        chat = self.query_one(CheckpointChat)
        if message.error is not None:
            chat.failed(message.error)
        else:
            chat.answer(message.completion)


def exit_description(returncode: int | None) -> str:
    """`killed by SIGKILL` for a negative return code (a signal), else `exit code N`."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"
