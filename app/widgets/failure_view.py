"""Why a run failed: the error from status.json, shown above everything else."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class FailureView(Static):
    DEFAULT_CSS = """
    FailureView {
        display: none;
        height: auto;
        max-height: 10;
        padding: 0 1;
        border: round $error;
        background: $error-muted;
    }
    FailureView.-shown { display: block; }
    """

    def show_error(self, error: str | None) -> None:
        self.set_class(bool(error), "-shown")
        self.border_title = "Run failed"
        self.update(Content(error or ""))
