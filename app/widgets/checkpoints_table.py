"""The run's checkpoints (checkpoints.jsonl): name, step, paths."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable

from cookbook_tui.runners.rundir import checkpoint_step


class CheckpointsTable(DataTable[str]):
    DEFAULT_CSS = """
    CheckpointsTable { height: 1fr; }
    """

    # DataTable's Home/End scroll sideways; in a table of rows they mean first and last row.
    BINDINGS = [
        Binding("home", "scroll_top", "First checkpoint", show=False, id="checkpoints.first"),
        Binding("end", "scroll_bottom", "Last checkpoint", show=False, id="checkpoints.last"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.checkpoints: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        self.add_column("Name", key="name")
        self.add_column("Step", key="step")
        self.add_column("Final", key="final")
        self.add_column("Sampler path", key="sampler")
        self.add_column("State path", key="state")

    def add_checkpoints(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.checkpoints.append(row)
            step = checkpoint_step(row)
            if step is None and isinstance(row.get("batch"), int):
                step = row["batch"]  # "final" is named, not numbered; its row says the step
            final = bool(row.get("final")) or row.get("name") == "final"
            self.add_row(
                str(row.get("name", "")),
                str(step) if step is not None else "–",
                "yes" if final else "",
                str(row.get("sampler_path") or "–"),
                str(row.get("state_path") or "–"),
            )
            if final and self.cursor_row == 0:
                # The chat (and a reader) want the final checkpoint unless one was picked.
                self.move_cursor(row=len(self.checkpoints) - 1)

    @property
    def selected(self) -> dict[str, Any] | None:
        if 0 <= self.cursor_row < len(self.checkpoints):
            return self.checkpoints[self.cursor_row]
        return None
