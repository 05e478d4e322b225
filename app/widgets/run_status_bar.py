"""One line on top of the run screen: state, step/total, elapsed, ETA, backend, run dir."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from textual.content import Content
from textual.widgets import Static

from cookbook_tui.app.rundir_view import projected_cost
from cookbook_tui.runners.rundir import RunStatus

STATE_STYLES = {
    "running": "bold $text-accent",
    "finished": "bold $text-success",
    "failed": "bold $text-error",
    "cancelled": "bold $text-warning",
}


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def elapsed(status: RunStatus, now: datetime) -> timedelta | None:
    if status.started_at is None:
        return None
    end = status.ended_at if status.ended_at and not status.is_active else now
    return end - status.started_at


def eta(status: RunStatus, now: datetime, step: int | None, seconds_per_step: float | None = None) -> timedelta | None:
    """Remaining time at the recent pace (the run's last step times) when it logs them, else at the
    pace of this attempt so far; only while running and once a step is done."""
    if not status.is_active or not step or not status.total_steps:
        return None
    remaining = max(0, status.total_steps - step)
    if seconds_per_step is not None:
        return timedelta(seconds=seconds_per_step * remaining)
    spent = elapsed(status, now)
    return None if spent is None else spent / step * remaining


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
        "  elapsed ", (format_duration(elapsed(status, now)), "bold"),
        "  ETA ", (format_duration(eta(status, now, step, seconds_per_step)), "bold"),
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
