"""The one place a failed worker is reported: every screen and the app mix this in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from textual.app import App


class ReportsWorkerErrors:
    """Workers run with exit_on_error=False; when one fails the user is told what and why."""

    if TYPE_CHECKING:  # what the Screen or App this is mixed into provides
        app: App[Any]

    # A plain-named handler, not @on: Textual only collects @on handlers from its own classes.
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        what = worker.description or worker.name or "a background task"
        error = worker.error
        self.app.notify(f"{what} failed: {type(error).__name__}: {error}", severity="error", timeout=10)
