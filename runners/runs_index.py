"""Every local run under some folders, summarised for `cookbook-tui runs` (and scripts: `--json`).

A run dir is found by its files (ours or tinker-cookbook's alone); each summary has its dir,
recipe, workflow, backend, model, state, steps, the workflow's headline metric's last value, the
tokens and cost the run logged (`tokens/*`, `cost/total_usd`), and its alarms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cookbook_tui.runners.alarms import AlarmThresholds, check_run
from cookbook_tui.runners.headlines import headline_keys
from cookbook_tui.runners.rundir import find_run_dirs, read_metrics, read_status, steps_done

TOKEN_KEYS = ("tokens/trained", "tokens/prefill", "tokens/sampled")


@dataclass
class RunSummary:
    run_dir: str
    recipe: str | None
    workflow: str | None
    backend: str | None
    model: str | None
    state: str
    steps: int
    total_steps: int | None
    headline: str | None
    headline_value: float | None
    tokens: dict[str, float] = field(default_factory=dict)
    cost_usd: float | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def headline_metric(workflow: str | None, rows: list[dict[str, Any]]) -> str | None:
    """The first of the workflow's headline keys (runners/headlines.py) the run has logged."""
    keys = headline_keys(workflow, dict.fromkeys(k for row in rows for k in row))
    return keys[0] if keys else None


def _last(rows: list[dict[str, Any]], key: str) -> float | None:
    for row in reversed(rows):
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def summarize(run_dir: Path, thresholds: AlarmThresholds | None = None, now: float | None = None) -> RunSummary:
    run_dir = Path(run_dir)
    status = read_status(run_dir)
    rows = read_metrics(run_dir)
    workflow = status.workflow
    headline = headline_metric(workflow, rows)
    tokens = {}
    for key in TOKEN_KEYS:  # per-step counts: the run's total is their sum
        values = [row[key] for row in rows if isinstance(row.get(key), int | float)]
        if values:
            tokens[key.split("/", 1)[1]] = float(sum(values))
    return RunSummary(
        run_dir=str(run_dir),
        recipe=status.recipe or run_dir.parent.name,
        workflow=workflow,
        backend=status.backend,
        model=status.model,
        state=status.state,
        steps=(steps_done(rows[-1]["step"]) if rows else None) or 0,
        total_steps=status.total_steps,
        headline=headline,
        headline_value=_last(rows, headline) if headline else None,
        tokens=tokens,
        cost_usd=_last(rows, "cost/total_usd"),
        alerts=[a.as_dict() for a in check_run(run_dir, thresholds, now=now, rows=rows)],
    )


def list_runs(roots: Iterable[Path], thresholds: AlarmThresholds | None = None) -> list[RunSummary]:
    return [summarize(path, thresholds) for path in find_run_dirs(roots)]
