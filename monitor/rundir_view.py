"""Watching a run directory for the screens: JSONL files followed incrementally, a log tail, metric
columns, digests for the runs table, and the alarm and cost helpers the screens show.

No textual here and no torch: the run screen polls these on a timer, so every read starts where the
previous one stopped (a remembered byte offset) and a growing metrics.jsonl costs only its new rows.
What a run dir is and says (its files, `RunStatus`, `read_status` with the dead-pid rule,
`is_run_dir`, `steps_done`) is the run-dir contract's one module, `cookbook_tui.runners.rundir`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cookbook_tui.monitor.distributions import RolloutFiles
from cookbook_tui.runners.alarms import Alarm, AlarmWatch, safe_thresholds, stall_alarm
from cookbook_tui.runners.rundir import (
    CHECKPOINTS_FILE,
    LOG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    JsonlTail,
    RunStatus,
    find_run_dirs,
    pid_alive,
    read_status,
    steps_done,
    tail_rows,
)


class TextTail:
    """Follows a log file; the first read starts near the end so a huge log costs little."""

    def __init__(self, path: Path, initial_bytes: int = 64 * 1024) -> None:
        self.path = path
        self.offset: int | None = None
        self.initial_bytes = initial_bytes

    def read_new(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if self.offset is None or size < self.offset:
                    self.offset = max(0, size - self.initial_bytes)
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return chunk[: end + 1].decode("utf-8", errors="replace").splitlines()


@dataclass
class MetricSeries:
    """Every numeric metric of a run as (steps, values) columns, grown by `add_rows`."""

    columns: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    last_row: dict[str, Any] = field(default_factory=dict)
    alarms: AlarmWatch = field(default_factory=lambda: AlarmWatch(safe_thresholds()))

    def steps_done(self) -> int | None:
        """Steps with a row so far (rows are numbered from 0), like status.json's `step`."""
        last = [steps[-1] for steps, _ in self.columns.values() if steps]
        return steps_done(max(last)) if last else None

    def add_rows(self, rows: list[dict[str, Any]]) -> None:
        # Hot path when a run with 100k rows is opened: exact type checks (bool is not a metric)
        # and one dict lookup per value.
        columns = self.columns
        for index, row in enumerate(rows):
            step = row.get("step")
            if type(step) is not int:
                step = len(next(iter(columns.values()), ([], []))[0]) + index
            for key, value in row.items():
                kind = type(value)
                if (kind is not float and kind is not int) or key == "step":
                    continue
                column = columns.get(key)
                if column is None:
                    column = columns[key] = ([], [])
                steps, values = column
                if steps and step <= steps[-1]:
                    # A resumed run writes its resume step again: keep the newest value only.
                    while steps and steps[-1] >= step:
                        steps.pop()
                        values.pop()
                steps.append(step)
                values.append(float(value))
            self.last_row = row
        self.alarms.feed_rows(rows)



@dataclass
class RunWatch:
    """All the followed files of one run dir; `poll()` says which parts changed."""

    run_dir: Path
    pid_alive: Callable[[int | None], bool] = pid_alive
    status: RunStatus = field(default_factory=RunStatus)
    metrics: MetricSeries = field(default_factory=MetricSeries)
    samples: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._metrics_tail = JsonlTail(self.run_dir / METRICS_FILE)
        self._samples_tail = JsonlTail(self.run_dir / SAMPLES_FILE)
        self._checkpoints_tail = JsonlTail(self.run_dir / CHECKPOINTS_FILE)
        self._log_tail = TextTail(self.run_dir / LOG_FILE)
        self.rollouts = RolloutFiles(self.run_dir)  # the cookbook's per-rollout values, for heatmaps
        self._rollouts_read = False

    def take_log_lines(self) -> list[str]:
        """The log lines read since the last call (they are not kept here)."""
        lines, self.log_lines = self.log_lines, []
        return lines

    def poll(self) -> set[str]:
        changed: set[str] = set()
        status = read_status(self.run_dir, self.pid_alive)
        if status != self.status:
            self.status = status
            changed.add("status")
        rows = self._metrics_tail.poll()
        if self._metrics_tail.reset:  # rewritten (deduplicated on resume): rebuild the columns
            self.metrics = MetricSeries()
        if rows or self._metrics_tail.reset:
            self.metrics.add_rows(rows)
            changed.add("metrics")
        # an iteration's rollouts are written before its metrics row: look for them when rows come
        if ("metrics" in changed or not self._rollouts_read) and self.rollouts.poll():
            changed.add("rollouts")
        self._rollouts_read = True
        rows = self._samples_tail.poll()
        if self._samples_tail.reset:
            self.samples.clear()
        if rows or self._samples_tail.reset:
            self.samples.extend(rows)
            changed.add("samples")
        rows = self._checkpoints_tail.poll()
        if self._checkpoints_tail.reset:
            self.checkpoints.clear()
        if rows or self._checkpoints_tail.reset:
            self.checkpoints.extend(rows)
            changed.add("checkpoints")
        if lines := self._log_tail.read_new():
            self.log_lines.extend(lines)
            changed.add("log")
        return changed


def newest_run_dirs(root: Path) -> list[Path]:
    """The run dirs under `root` (rundir.find_run_dirs), newest first: folder names are UTC
    timestamps (runs/<recipe>/<time>)."""
    return sorted(find_run_dirs([root]), key=lambda p: (p.name, str(p)), reverse=True)


@dataclass
class MetricsPreview:
    columns: dict[str, tuple[list[int], list[float]]]
    rows: int


def preview_metrics(path: Path, window: int) -> MetricsPreview:
    """The metric columns of a metrics.jsonl's latest rows (its last `window` bytes), for the
    first frame of a long run whose whole history is still being read."""
    rows = tail_rows(path, window)
    series = MetricSeries()
    series.add_rows(rows)
    return MetricsPreview(series.columns, len(rows))


TIME_KEY = "time/total"  # tinker-cookbook's seconds per step
RECENT_STEPS = 10  # the ETA uses the pace of the last this-many steps


@dataclass
class MetricsDigest:
    """What the runs table needs from a metrics.jsonl, followed incrementally (a reload every two
    seconds reads only new rows): steps done, the last row, time spent in steps (summed over every
    attempt, so a resume keeps it), and the recent step pace for the ETA."""

    path: Path
    last_row: dict[str, Any] = field(default_factory=dict)
    steps_done: int | None = None
    step_seconds: float = 0.0
    recent: list[float] = field(default_factory=list)
    observed: list[tuple[float, int]] = field(default_factory=list)  # (wall time, steps) when no step times

    def __post_init__(self) -> None:
        self._tail = JsonlTail(self.path)
        self._by_step: dict[int, float] = {}
        self.alarms = AlarmWatch(safe_thresholds())

    def poll(self) -> None:
        rows = self._tail.poll()
        if self._tail.reset:
            self._by_step.clear()
            self.recent.clear()
            self.last_row = {}
            self.alarms = AlarmWatch(self.alarms.thresholds)
        self.alarms.feed_rows(rows)
        for row in rows:
            step = row.get("step")
            if not isinstance(step, int):
                continue
            seconds = row.get(TIME_KEY)
            if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
                self._by_step[step] = float(seconds)  # a resumed step logged again counts once
                self.recent = (self.recent + [float(seconds)])[-RECENT_STEPS:]
            self.last_row = row
            self.steps_done = steps_done(step)
        if rows or self._tail.reset:
            self.step_seconds = sum(self._by_step.values())

    def seconds_per_step(self, now: float) -> float | None:
        """The recent pace: mean step time of the last steps, else steps seen across polls."""
        if self.recent:
            return sum(self.recent) / len(self.recent)
        if self.steps_done is not None:
            if not self.observed or self.observed[-1][1] != self.steps_done:
                self.observed = (self.observed + [(now, self.steps_done)])[-RECENT_STEPS:]
            if len(self.observed) >= 2:
                (t0, s0), (t1, s1) = self.observed[0], self.observed[-1]
                if s1 > s0:
                    return (t1 - t0) / (s1 - s0)
        return None


def recent_seconds_per_step(columns: dict[str, tuple[list[int], list[float]]]) -> float | None:
    """The mean step time of the last RECENT_STEPS steps, from the run's own `time/total`."""
    column = columns.get(TIME_KEY)
    if not column or not column[1]:
        return None
    recent = column[1][-RECENT_STEPS:]
    return sum(recent) / len(recent)


def attempt_seconds(status: RunStatus, now: datetime) -> float | None:
    """Wall time of the run's latest attempt (started_at to ended_at, or to now while it runs)."""
    if status.started_at is None:
        return None
    end = status.ended_at if status.ended_at and not status.is_active else now
    return max((end - status.started_at).total_seconds(), 0.0)


def run_seconds(status: RunStatus, digest: MetricsDigest | None, now: datetime) -> float | None:
    """How long a run has trained: its summed step times when it logs them (kept across a resume),
    else this attempt's wall time from status.json."""
    if digest is not None and digest.step_seconds > 0:
        return digest.step_seconds
    return attempt_seconds(status, now)


def remaining_seconds(status: RunStatus, steps_done: int | None, pace: float | None, now: datetime) -> float | None:
    """The one ETA rule, for the runs table and the run screen: only while running, once a step is
    done and the total is known; at `pace` (seconds per step, from the run's recent steps) when
    known, else at this attempt's pace so far."""
    if not status.is_active or not steps_done or not status.total_steps:
        return None
    if pace is None:
        spent = attempt_seconds(status, now)
        if spent is None:
            return None
        pace = spent / steps_done
    return pace * max(status.total_steps - steps_done, 0)


def eta_seconds(status: RunStatus, digest: MetricsDigest | None, now: datetime) -> float | None:
    if digest is None:
        return None
    return remaining_seconds(status, digest.steps_done, digest.seconds_per_step(now.timestamp()), now)


def run_alarms(
    status: RunStatus, metrics_path: Path, watch: AlarmWatch, steps: int | None,
    seconds_per_step: float | None, now: datetime,
) -> list[Alarm]:
    """The metric alarms in force plus a stall (no new step for too long while running)."""
    alarms = list(watch.current)
    try:
        last_write: float | None = metrics_path.stat().st_mtime
    except OSError:
        last_write = None
    started = status.started_at.timestamp() if status.started_at else None
    stalled = stall_alarm(status.state, last_write, started, steps or 0, seconds_per_step, now.timestamp(), watch.thresholds)
    return alarms + ([stalled] if stalled else [])


def cost_so_far(last_row: dict[str, Any]) -> float | None:
    value = last_row.get("cost/total_usd")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def projected_cost(cost: float | None, steps: int | None, total_steps: int | None) -> float | None:
    """The cost at the end at the pace so far (linear in steps)."""
    if cost is None or not steps or not total_steps or total_steps <= steps:
        return None
    return cost / steps * total_steps
