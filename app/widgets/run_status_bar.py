"""One line on top of the run screen: state, step/total, elapsed, ETA, backend, run dir."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from textual.content import Content
from textual.widgets import Static

from cookbook_tui.monitor.rundir_view import attempt_seconds, projected_cost, remaining_seconds
from cookbook_tui.runners.rundir import RunStatus

STATE_STYLES = {
    "running": "bold $text-accent",
    "finished": "bold $text-success",
    "failed": "bold $text-error",
    "cancelled": "bold $text-warning",
}


def format_clock(seconds: float | None) -> str:
    """`1:02:03` / `2:03`: the run screen's elapsed and ETA."""
    if seconds is None:
        return "–"
    minutes, secs = divmod(max(0, int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_line(status: RunStatus, run_dir: Path, now: datetime, step: int | None,
                seconds_per_step: float | None = None, alarms: list[Any] = (),  # type: ignore[assignment]
                cost: float | None = None) -> Content:
    step = status.step if status.step is not None else step
    steps = f"{step if step is not None else '–'}/{status.total_steps or '?'}"
    extra: list[Any] = []
    if cost is not None:
        at_end = projected_cost(cost, step, status.total_steps) if status.is_active else None
        extra += ["  cost ", (f"${cost:.2f}" + (f" → ${at_end:.2f}" if at_end is not None else ""), "bold")]
    if alarms:
        # the badge names each alarm; the Log tab and logs.log say more
        extra += ["  ", (" ⚠ " + "; ".join(a.message for a in alarms) + " ", "bold $text-warning on $warning-muted")]
    return Content.assemble(
        (f" {status.state.upper()} ", STATE_STYLES.get(status.state, "bold")),
        "  step ", (steps, "bold"),
        "  elapsed ", (format_clock(attempt_seconds(status, now)), "bold"),
        "  ETA ", (format_clock(remaining_seconds(status, step, seconds_per_step, now)), "bold"),
        "  backend ", (status.backend or "?", "bold"),
        *extra,
        "  ", (str(run_dir), "$text-muted"),
    )


class RunStatusBar(Static):
    DEFAULT_CSS = """
    RunStatusBar { height: 1; background: $panel; }
    """

    def show(self, status: RunStatus, run_dir: Path, now: datetime, step: int | None,
             seconds_per_step: float | None = None, alarms: list[Any] = (),  # type: ignore[assignment]
             cost: float | None = None) -> None:
        self.alarms = list(alarms)
        self.update(status_line(status, run_dir, now, step, seconds_per_step, alarms, cost))
