"""What an export reads from run dirs: each run's metrics, status, notes, config and samples, with the
labels compare gives them; and which charts there are. Shared by the CSV, image and HTML exports
(`cookbook-tui export`, and `e` on the run and compare screens)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cookbook_tui.monitor.chart_model import ChartOrder, ema
from cookbook_tui.monitor.run_compare import config_diff, run_config, short_labels, summary_keys
from cookbook_tui.monitor.rundir_view import MetricSeries
from cookbook_tui.runners.run_notes import RunNotes, read_notes
from cookbook_tui.runners.rundir import RunStatus, read_metrics, read_samples, read_status

Columns = dict[str, tuple[list[int], list[float]]]
SMOOTHING = 0.6  # the chart grid's default weight, for the smoothed line in images


@dataclass
class ExportRun:
    run_dir: Path
    label: str
    status: RunStatus
    rows: list[dict[str, Any]]  # metrics.jsonl, one row a step (a resumed step's last row)
    columns: Columns  # numeric metrics as (steps, values), as the charts read them
    notes: RunNotes = field(default_factory=RunNotes)
    config: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def load_runs(run_dirs: Sequence[Path]) -> list[ExportRun]:
    run_dirs = [Path(d) for d in run_dirs]
    statuses = [read_status(d) for d in run_dirs]
    configs = [run_config(d) for d in run_dirs]
    names = [status.recipe or run_dir.parent.name for status, run_dir in zip(statuses, run_dirs)]
    labels = short_labels(names, config_diff(configs, run_dirs)) if len(run_dirs) > 1 else names
    runs = []
    for run_dir, status, config, label in zip(run_dirs, statuses, configs, labels):
        rows = read_metrics(run_dir)
        series = MetricSeries()
        series.add_rows(rows)
        runs.append(ExportRun(run_dir, label, status, rows, series.columns, read_notes(run_dir), config,
                              read_samples(run_dir)))
    return runs


def chart_keys(runs: Sequence[ExportRun]) -> list[str]:
    """Every metric with a chart, in the grid's order (headline charts first, then by prefix)."""
    order = ChartOrder()
    present: dict[str, None] = {}
    for run in runs:
        order.update(run.status.workflow, list(run.columns))
        present.update(dict.fromkeys(run.columns))
    return order.ordered(list(present))


def headline_chart_keys(runs: Sequence[ExportRun]) -> list[str]:
    return summary_keys([run.status.workflow for run in runs], [list(run.columns) for run in runs])


def smoothed(steps: Sequence[int], values: Sequence[float]) -> list[float]:
    return ema(steps, values, SMOOTHING)
