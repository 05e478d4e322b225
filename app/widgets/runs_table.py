"""Every run under the runs folder: state, recipe, steps, last metrics; rows can be marked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.content import Content
from textual.widgets import DataTable

from cookbook_tui.app.cell_text import ellipsize, reset_column_widths
from cookbook_tui.app.rundir_view import RunStatus
from cookbook_tui.app.widgets.run_status_bar import STATE_STYLES

SUMMARY_KEYS = ("train_mean_nll", "test/nll", "dpo_loss", "accuracy", "env/all/reward/total", "teacher_kl")


@dataclass
class RunRow:
    run_dir: Path
    status: RunStatus
    last_metrics: dict[str, Any]
    steps_done: int | None


def metrics_summary(row: dict[str, Any]) -> str:
    parts = [f"{key} {row[key]:.3g}" for key in SUMMARY_KEYS if isinstance(row.get(key), (int, float))]
    return "  ".join(parts[:3])


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
        self.add_column("Run", key="run")
        self.add_column("State", key="state", width=9)
        self.add_column("Recipe", key="recipe")
        self.add_column("Workflow", key="workflow")
        self.add_column("Steps", key="steps")
        self.add_column("Last metrics", key="metrics")

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
            step = status.step if status.step is not None else row.steps_done
            self.add_row(
                "●" if row.run_dir in self.marked else "",
                # Long names are cut so Steps and Last metrics stay on screen (the run screen's
                # title has the full path).
                ellipsize(self.label(row.run_dir), max(24, name_width + 16), keep_end=True),
                Content.styled(status.state, STATE_STYLES.get(status.state, "")),
                ellipsize(status.recipe or "–", name_width),
                status.workflow or "–",
                f"{step if step is not None else '–'}/{status.total_steps or '?'}",
                metrics_summary(row.last_metrics),
                key=str(row.run_dir),
            )
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
