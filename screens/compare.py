"""Compare 2-8 runs: the run screen's chart grid with one stable colour per run, a table of only the
config keys that differ, and a sortable summary (final and best of the headline metrics, steps,
duration). Labels are short: the recipe name plus what differs (`arithmetic-sft lr=3e-3`).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from cookbook_tui.app.widgets.chart_grid import ChartGrid
from cookbook_tui.monitor.chart_grid_model import ChartRun
from cookbook_tui.monitor.chart_model import compact, format_duration, run_colour
from cookbook_tui.monitor.run_compare import (
    MAX_RUNS,
    config_diff,
    format_value,
    run_config,
    short_labels,
    summarise,
    summary_keys,
)
from cookbook_tui.monitor.rundir_view import MetricsDigest, RunWatch, run_seconds
from cookbook_tui.runners.run_notes import read_notes
from cookbook_tui.runners.rundir import METRICS_FILE
from cookbook_tui.screens.base import CookbookScreen
from cookbook_tui.screens.export_report import export_report


def recipe_name(watch: RunWatch) -> str:
    return watch.status.recipe or watch.run_dir.parent.name


class CompareScreen(CookbookScreen):
    TITLE = "Compare runs"

    BINDINGS = [
        Binding("1", "show_tab('compare-charts')", "Charts", show=False, id="compare.tab.charts"),
        Binding("2", "show_tab('compare-config')", "Config diff", show=False, id="compare.tab.config"),
        Binding("3", "show_tab('compare-summary')", "Summary", show=False, id="compare.tab.summary"),
        Binding("s", "sort_summary", "Sort", id="compare.sort"),
        Binding("e", "export", "Export report (HTML, CSV)", show=False, id="compare.export"),
        Binding("escape", "back", "Back", id="compare.back"),
    ]

    def __init__(self, run_dirs: list[Path]) -> None:
        super().__init__()
        self.run_dirs = run_dirs[:MAX_RUNS]
        self.watches: list[RunWatch] = []
        self.chart_runs: list[ChartRun] = []
        self.labels: list[str] = []
        self.sort_column = 0
        self.sort_reverse = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-legend")
        with TabbedContent(initial="compare-charts", id="compare-tabs"):
            with TabPane("Charts", id="compare-charts"):
                yield ChartGrid(id="compare-grid")
            with TabPane("Config diff", id="compare-config"):
                yield Static(id="compare-config-note")
                yield DataTable(id="compare-config-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Summary", id="compare-summary"):
                yield DataTable(id="compare-summary-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        config = self.app.config
        self.sub_title = f"{len(self.run_dirs)} runs"
        self.watches = [RunWatch(run_dir, pid_alive=config.pid_alive) for run_dir in self.run_dirs]
        for watch in self.watches:
            watch.poll()
        configs = [run_config(run_dir) for run_dir in self.run_dirs]
        self.diff = config_diff(configs, self.run_dirs)
        self.labels = short_labels([recipe_name(w) for w in self.watches], self.diff)
        self.chart_runs = [
            ChartRun(label, run_colour(i), columns=w.metrics.columns, workflow=w.status.workflow)
            for i, (label, w) in enumerate(zip(self.labels, self.watches))
        ]
        self.show_legend()
        self.show_config_diff()
        grid = self.query_one(ChartGrid)
        grid.set_runs(self.chart_runs)
        grid.focus()
        self.show_summary()
        if config.poll_interval > 0:
            self.set_interval(config.poll_interval, self.poll_runs)

    def show_legend(self) -> None:
        parts: list = [" "]
        for run, run_dir in zip(self.chart_runs, self.run_dirs):
            notes = read_notes(run_dir).summary()
            parts += [("■ ", f"bold {run.colour}"), (run.label, "bold"), (f" {notes}" if notes else "", "$text-muted"), "   "]
        self.query_one("#compare-legend", Static).update(Content.assemble(*parts))

    def show_config_diff(self) -> None:
        table = self.query_one("#compare-config-table", DataTable)
        table.clear(columns=True)
        table.add_column("key", key="key")
        for index, label in enumerate(self.labels):
            table.add_column(Text(label, style=f"bold {run_colour(index)}"), key=f"run{index}")
        for row in self.diff:
            table.add_row(row.key, *(format_value(v) for v in row.values))
        note = self.query_one("#compare-config-note", Static)
        note.update(
            f" {len(self.diff)} keys differ (recipe.toml as recipe:…, tinker-cookbook's config.json as config:…)"
            if self.diff else " The runs' recipe.toml and config.json do not differ (or are missing)."
        )

    def summary_rows(self):
        now = self.app.config.now()
        keys = summary_keys([w.status.workflow for w in self.watches], [list(w.metrics.columns) for w in self.watches])
        rows = []
        for label, watch in zip(self.labels, self.watches):
            digest = MetricsDigest(watch.run_dir / METRICS_FILE)
            digest.poll()
            rows.append(summarise(label, watch.metrics.columns, keys, run_seconds(watch.status, digest, now)))
        return keys, rows

    def show_summary(self) -> None:
        keys, rows = self.summary_rows()
        table = self.query_one("#compare-summary-table", DataTable)
        table.clear(columns=True)
        headers = ["run", "steps", "duration"] + [f"{k} {w}" for k in keys for w in ("final", "best")]
        for index, header in enumerate(headers):
            arrow = (" ▼" if self.sort_reverse else " ▲") if index == self.sort_column else ""
            table.add_column(header + arrow, key=f"c{index}")

        def sort_value(row, column: int):
            values = [row.label, row.steps, row.duration_s] + [
                (row.final if w == "final" else row.best).get(k) for k in keys for w in ("final", "best")
            ]
            value = values[column]
            return (value is None, value if value is not None else 0)

        order = sorted(range(len(rows)), key=lambda i: sort_value(rows[i], self.sort_column), reverse=self.sort_reverse)
        for i in order:
            row = rows[i]
            cells = [Text(row.label, style=f"bold {run_colour(i)}"), str(row.steps or "–"), format_duration(row.duration_s)]
            for key in keys:
                for values in (row.final, row.best):
                    cells.append(compact(values[key], 4) if key in values else "–")
            table.add_row(*cells)
        self.summary_columns = len(headers)

    @on(DataTable.HeaderSelected, "#compare-summary-table")
    def header_clicked(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_index
        self.sort_reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column = column
        self.show_summary()

    def action_sort_summary(self) -> None:
        """`s` sorts the summary by the next column."""
        self.sort_column = (self.sort_column + 1) % max(self.summary_columns, 1)
        self.sort_reverse = False
        self.show_summary()
        self.action_show_tab("compare-summary")

    def poll_runs(self) -> None:
        changed = False
        for watch, run in zip(self.watches, self.chart_runs):
            if "metrics" in watch.poll():
                run.columns = watch.metrics.columns
                changed = True
        if changed:
            self.query_one(ChartGrid).data_changed()
            self.show_summary()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        tables = {"compare-config": "#compare-config-table", "compare-summary": "#compare-summary-table"}
        target = self.query_one(ChartGrid) if tab == "compare-charts" else self.query_one(tables[tab])
        target.focus()

    def action_export(self) -> None:
        export_report(self, self.run_dirs, "compare")

    def action_back(self) -> None:
        self.dismiss()
