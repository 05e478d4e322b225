"""Every run under the runs folder: state, recipe, backend, model, start, duration, steps, ETA and
the headline metric's last value; sortable by any column, filterable, rows can be marked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable

from cookbook_tui.app.cell_text import ellipsize, reset_column_widths
from cookbook_tui.app.widgets.run_status_bar import STATE_STYLES
from cookbook_tui.monitor.chart_model import compact, format_duration
from cookbook_tui.runners.headlines import headline_keys
from cookbook_tui.runners.run_notes import RunNotes
from cookbook_tui.runners.rundir import RunStatus


@dataclass
class RunRow:
    run_dir: Path
    status: RunStatus
    last_metrics: dict[str, Any]
    steps_done: int | None
    seconds: float | None = None  # trained so far (summed step times: kept across a resume)
    eta_s: float | None = None  # from the recent step pace
    alarms: list[Any] = field(default_factory=list)  # runners.alarms.Alarm
    cost: float | None = None  # cost/total_usd so far (with a prices.toml)
    cost_at_end: float | None = None
    notes: RunNotes = field(default_factory=RunNotes)  # the user's note and tags (notes.json)
    config: dict[str, Any] = field(default_factory=dict)  # recipe.toml and config.json, flattened, for the filter

    @property
    def step(self) -> int | None:
        return self.status.step if self.status.step is not None else self.steps_done

    def headline(self) -> tuple[str, float] | None:
        """The workflow's first headline metric in the last row (any numeric one for unknown runs)."""
        numeric = {k: v for k, v in self.last_metrics.items() if type(v) in (int, float) and k != "step"}
        for key in headline_keys(self.status.workflow, list(numeric)):
            return key, float(numeric[key])
        return None


def metrics_summary(row: dict[str, Any], workflow: str | None = None) -> str:
    numeric = [k for k, v in row.items() if type(v) in (int, float) and k != "step"]
    keys = headline_keys(workflow, numeric)
    return "  ".join(f"{key} {compact(float(row[key]), 4)}" for key in keys[:1])


def alarm_badge(alarms: list[Any]) -> Text:
    """`⚠ kl entropy` in a warning colour; empty when the run looks healthy. A rich Text, not
    Content: DataTable sizes auto-width columns by measuring Text and str cells only."""
    if not alarms:
        return Text("")
    return Text("⚠ " + " ".join(a.kind for a in alarms), style="bold dark_orange")


def cost_text(cost: float | None, at_end: float | None) -> str:
    if cost is None:
        return "–"
    return f"${cost:.2f}" + (f" → ${at_end:.2f}" if at_end is not None else "")


def started_text(started: datetime | None) -> str:
    return started.strftime("%m-%d %H:%M") if started else "–"


# (column key, title, sort value) — the sort values put missing ones last
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run", "Run"), ("state", "State"), ("alerts", "Alerts"), ("notes", "Tags & note"), ("steps", "Steps"), ("eta", "ETA"),
    ("duration", "Duration"), ("metrics", "Headline (last)"), ("cost", "Cost"), ("started", "Started"), ("backend", "Backend"), ("workflow", "Workflow"),
    ("model", "Model"),
)


def sort_value(row: RunRow, column: str, label: str) -> tuple:
    status = row.status
    values: dict[str, Any] = {
        "run": label, "state": status.state, "recipe": status.recipe, "workflow": status.workflow,
        "backend": status.backend, "model": status.model,
        "started": status.started_at.timestamp() if status.started_at else None,
        "duration": row.seconds, "steps": row.step, "eta": row.eta_s,
        "metrics": (row.headline() or (None, None))[1],
        "alerts": len(row.alarms) or None, "cost": row.cost, "notes": row.notes.summary() or None,
    }
    value = values.get(column)
    return (value is None, value if value is not None else 0)


class RunsTable(DataTable[Any]):
    DEFAULT_CSS = """
    RunsTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="runs.open"),
        # DataTable's Home/End scroll sideways; in a table of rows they mean first and last row.
        Binding("home", "scroll_top", "First run", show=False, id="runs.first"),
        Binding("end", "scroll_bottom", "Last run", show=False, id="runs.last"),
    ]

    def __init__(self, runs_dir: Path, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.runs_dir = runs_dir
        self.rows_shown: list[RunRow] = []
        self.marked: set[Path] = set()

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        for key, title in COLUMNS:
            self.add_column(title, key=key, width=9 if key == "state" else None)

    def label(self, run_dir: Path) -> str:
        try:
            return str(run_dir.relative_to(self.runs_dir))
        except ValueError:
            return str(run_dir)

    def set_runs(self, rows: list[RunRow]) -> None:
        cursor = self.cursor_row
        self.rows_shown = rows
        self.marked &= {row.run_dir for row in rows}
        self.clear()
        reset_column_widths(self, self.size.width or self.app.size.width)
        name_width = max(10, (self.size.width or self.app.size.width) // 8)
        for row in rows:
            status = row.status
            step = row.step
            cells = {
                # Long names are cut so the other columns stay on screen (the run screen's title
                # has the full path).
                "run": ellipsize(self.label(row.run_dir), max(24, name_width + 16), keep_end=True),
                "state": Content.styled(status.state, STATE_STYLES.get(status.state, "")),
                "alerts": alarm_badge(row.alarms),
                "notes": ellipsize(row.notes.summary(), max(20, name_width + 12)),
                "steps": f"{step if step is not None else '–'}/{status.total_steps or '?'}",
                "eta": format_duration(row.eta_s) if row.eta_s is not None else "–",
                "duration": format_duration(row.seconds),
                "metrics": metrics_summary(row.last_metrics, status.workflow),
                "cost": cost_text(row.cost, row.cost_at_end),
                "started": started_text(status.started_at),
                "backend": status.backend or "–",
                "workflow": status.workflow or "–",
                "model": ellipsize(status.model or "–", name_width),
            }
            self.add_row("●" if row.run_dir in self.marked else "", *(cells[key] for key, _ in COLUMNS),
                         key=str(row.run_dir))
        if rows:
            self.move_cursor(row=min(max(cursor, 0), len(rows) - 1))

    @property
    def selected(self) -> RunRow | None:
        if 0 <= self.cursor_row < len(self.rows_shown):
            return self.rows_shown[self.cursor_row]
        return None

    def toggle_mark(self) -> None:
        row = self.selected
        if row is None:
            return
        self.marked ^= {row.run_dir}
        self.update_cell(str(row.run_dir), "mark", "●" if row.run_dir in self.marked else "")
