"""What a headless run shows: in a terminal, one live progress bar (step/total, rate, ETA and the
workflow's headline metrics); sent to a file or a pipe, one short line per step; or one JSON event
per line (`--json-events`), or nothing (`--quiet`). Fed by a thread that tails metrics.jsonl, so
the cookbook's loop is not touched."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cookbook_tui.runners.headlines import WARMUP_KEYS, headline_keys
from cookbook_tui.runners.rundir import METRICS_FILE, JsonlTail, steps_done


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


class StepRateColumn(ProgressColumn):
    """Steps a second (or seconds a step, for slow steps)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("– step/s", style="progress.data.speed")
        shown = f"{speed:.2f} step/s" if speed >= 1 else f"{1 / speed:.1f} s/step"
        return Text(shown, style="progress.data.speed")


class StepProgress(Progress):
    """The bar, and under it the headline metrics (a line of their own, so a narrow terminal
    cuts them with an ellipsis rather than squeezing the bar's columns)."""

    headline = ""

    def get_renderables(self):
        yield self.make_tasks_table(self.tasks)
        if self.headline:
            yield Text("  " + self.headline, no_wrap=True, overflow="ellipsis")


class Reporter:
    """Receives run events from the runner and the metrics follower; renders them."""

    def __init__(self, out: TextIO, err: TextIO, *, quiet: bool = False, json_events: bool = False):
        self.out = out
        self.json_events = json_events
        self.quiet = quiet or json_events
        self.console = Console(file=out, highlight=False)
        self.err_console = Console(file=err, highlight=False, markup=False)
        self._progress: StepProgress | None = None
        self._task: Any = None
        self._lock = threading.Lock()
        self._workflow = ""
        self._total: int | None = None
        self._stage = ""
        self._headline: dict[str, Any] = {}  # the last value of each headline metric (evals are sparse)

    def event(self, kind: str, **fields: Any) -> None:
        if self.json_events:
            with self._lock:
                self.out.write(json.dumps({"event": kind, **fields}, default=str) + "\n")
                self.out.flush()

    def info(self, text: str) -> None:
        self.event("info", message=text)
        if not self.quiet:
            self.console.print(text, markup=False)

    def warning(self, text: str) -> None:
        self.event("warning", message=text)
        if self.json_events:
            return
        if getattr(self, "_progress", None) is not None and not self.quiet:
            # while the bar is live only its own console prints cleanly above it
            self.console.print(text, style="yellow", markup=False)
        else:
            self.err_console.print(text)

    def stage_started(self, stage: str, workflow: str, total: int | None) -> None:
        self._stop_bar()
        self._stage, self._total = stage, total
        self._headline = {}
        self._workflow = workflow
        self.event("stage", stage=stage, total_steps=total)
        if self.quiet:
            return
        self._progress = StepProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            StepRateColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            # rich would otherwise route sys.stdout/sys.stderr through the bar while it is live,
            # past our log sink: the cookbook's per-step tables and log lines filled the terminal.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(stage, total=total)
        self._progress.start()

    def step(self, row: dict[str, Any]) -> None:
        step = row.get("step")
        if not isinstance(step, int):
            return
        keys = WARMUP_KEYS if self._stage == "warmup" else headline_keys(self._workflow, row)
        metrics = {k: row[k] for k in keys if k in row}
        self.event("step", stage=self._stage, step=step, total_steps=self._total, metrics=row)
        if self.quiet or self._progress is None:
            return
        shown = "  ".join(f"{k} {_fmt(v)}" for k, v in metrics.items())
        if shown:
            self._headline.update(metrics)
        done = steps_done(step)
        if not self.console.is_terminal:  # a log file or a pipe gets a line a step; a terminal, the bar
            of = f"/{self._total}" if self._total else ""
            self._progress.console.print(f"{self._stage} step {done}{of}  {shown}", markup=False, soft_wrap=True)
        self._progress.headline = "  ".join(f"{k} {_fmt(v)}" for k, v in self._headline.items())
        self._progress.update(self._task, completed=done)

    def finished(self, state: str, run_dir: Path, error: str | None = None) -> None:
        self._stop_bar()
        self.event("end", state=state, run_dir=str(run_dir), error=error)
        if self.json_events:
            return
        if state == "finished":
            if not self.quiet:
                self.console.print(f"finished: {run_dir}", markup=False)
        elif state == "cancelled":
            self.err_console.print(f"cancelled: {run_dir} (resume with: cookbook-tui --resume {run_dir})")
        else:
            self.err_console.print(f"failed: {error}\nrun dir: {run_dir} (details in {run_dir / 'logs.log'})")

    def _stop_bar(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class MetricsFollower:
    """A daemon thread that hands each new metrics.jsonl row to `on_row` (and drains on stop)."""

    def __init__(self, log_path: Path, on_row: Callable[[dict[str, Any]], None], interval: float = 0.2):
        self._tail = JsonlTail(Path(log_path) / METRICS_FILE)
        self._on_row = on_row
        self._interval = interval
        self._stop = threading.Event()
        self._seen: set[int] = set()
        self._thread = threading.Thread(target=self._loop, name="metrics-follower", daemon=True)

    def skip_steps_before(self, rows: list[dict[str, Any]]) -> None:
        """Rows already on disk when a resumed run starts are shown once, not again."""
        self._tail.poll()
        self._seen.update(r["step"] for r in rows if isinstance(r.get("step"), int))

    def start(self) -> MetricsFollower:
        self._thread.start()
        return self

    def _drain(self) -> None:
        for row in self._tail.poll():
            step = row.get("step")
            if isinstance(step, int) and step in self._seen:
                continue  # a resumed step logged again (tinker-cookbook 0.5.8)
            if isinstance(step, int):
                self._seen.add(step)
            self._on_row(row)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._drain()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()
