"""Two or more runs' curves on one plot: each run's training loss, and reward where runs have it."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header

from cookbook_tui.app.metric_groups import METRIC_GROUPS, keys_for, primary_loss_key
from cookbook_tui.app.rundir_view import RunWatch
from cookbook_tui.app.widgets.metric_plot import MetricPlot
from cookbook_tui.screens.worker_errors import ReportsWorkerErrors


class CompareScreen(ReportsWorkerErrors, Screen[None]):
    TITLE = "Compare runs"

    BINDINGS = [
        Binding("m", "toggle_smoothing", "Smooth", id="compare.smooth"),
        Binding("l", "toggle_log_scale", "Log scale", id="compare.log_scale"),
        Binding("escape", "back", "Back", id="compare.back"),
    ]

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__()
        self.run_dirs = run_dirs
        self.watches: list[RunWatch] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield MetricPlot("Training loss", id="compare-loss", classes="metric-plot")
        yield MetricPlot("Reward / accuracy", id="compare-reward", classes="metric-plot")
        yield Footer()

    def on_mount(self) -> None:
        config = self.app.config  # type: ignore[attr-defined]
        self.sub_title = f"{len(self.run_dirs)} runs"
        self.watches = [RunWatch(run_dir, pid_alive=config.pid_alive) for run_dir in self.run_dirs]
        self.poll_runs()
        if config.poll_interval > 0:
            self.set_interval(config.poll_interval, self.poll_runs)

    def label(self, run_dir: Path) -> str:
        return f"{run_dir.parent.name}/{run_dir.name}"

    def poll_runs(self) -> None:
        if not any(["metrics" in watch.poll() for watch in self.watches]):
            return
        loss, reward = {}, {}
        for watch in self.watches:
            columns = watch.metrics.columns
            if key := primary_loss_key(list(columns)):
                loss[f"{self.label(watch.run_dir)} {key}"] = columns[key]
            for key in keys_for(METRIC_GROUPS[2], list(columns))[:1]:
                reward[f"{self.label(watch.run_dir)} {key}"] = columns[key]
        self.query_one("#compare-loss", MetricPlot).set_series(loss)
        reward_plot = self.query_one("#compare-reward", MetricPlot)
        reward_plot.display = bool(reward)
        reward_plot.set_series(reward)

    def action_toggle_smoothing(self) -> None:
        for plot in self.query(MetricPlot):
            plot.smoothing = not plot.smoothing

    def action_toggle_log_scale(self) -> None:
        for plot in self.query(MetricPlot):
            plot.log_scale = not plot.log_scale

    def action_back(self) -> None:
        self.dismiss()
