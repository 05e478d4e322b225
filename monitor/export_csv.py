"""Metrics as CSV: one row a step, one column a metric (the union of every row's keys, in the order
they first appear), values as metrics.jsonl has them; with several runs a first `run` column."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cookbook_tui.common.files import write_atomic
from cookbook_tui.monitor.export_runs import ExportRun


def metric_columns(runs: Sequence[ExportRun]) -> list[str]:
    keys: dict[str, None] = {"step": None}
    for run in runs:
        for row in run.rows:
            keys.update(dict.fromkeys(row))
    return list(keys)


def csv_text(runs: Sequence[ExportRun]) -> str:
    columns = metric_columns(runs)
    header = (["run"] if len(runs) > 1 else []) + columns
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for run in runs:
        for row in run.rows:
            cells = [_cell(row.get(key)) for key in columns]
            writer.writerow(([run.label] if len(runs) > 1 else []) + cells)
    return out.getvalue()


def _cell(value: Any) -> str:
    """Empty for a metric the step did not log; numbers as JSON writes them (repr: exact)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def write_csv(path: Path, runs: Sequence[ExportRun]) -> Path:
    write_atomic(path, csv_text(runs))
    return path
