"""Distributions over steps: a value per rollout, per step (RL reward and advantage, and every
metric the cookbook logs per rollout), for the heatmap charts.

The source is tinker-cookbook's own rollout export: `rl.train` writes every rollout of a training
batch to `iteration_NNNNNN/train_rollout_summaries.jsonl` in the log dir (`rollout_json_export`,
on by default): `group_idx`, `total_reward`, `trajectory_metrics` and each transition's `metrics`.
Per rollout: `rollouts/reward` (its total reward), `rollouts/advantage` (reward minus its group's
mean, as `rl.data_processing.compute_advantages` centres it) and `rollouts/<metric>` (the mean over
its transitions and trajectory metrics, as the cookbook averages them into `env/all/<metric>`).

Plain Python and numpy. `RolloutFiles` follows the iteration folders of a run dir: each poll reads
only files that are new or changed (the cookbook writes them in place, not atomically, so a
torn last line is skipped and the file read again once it grows).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROLLOUTS_FILE = "train_rollout_summaries.jsonl"
ITERATION_DIR = re.compile(r"^iteration_(\d+)$")
PREFIX = "rollouts/"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def rollout_values(records: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """One step's values per rollout for each distribution (`rollouts/reward`, …)."""
    rewards: list[tuple[int, float]] = []
    metrics: dict[str, list[float]] = defaultdict(list)
    for record in records:
        reward = record.get("total_reward")
        if not isinstance(reward, int | float) or not _is_number(reward):
            continue
        rewards.append((int(record.get("group_idx", 0)), float(reward)))
        per_key: dict[str, list[float]] = defaultdict(list)
        for source in [step.get("metrics") or {} for step in record.get("steps") or []] + [record.get("trajectory_metrics") or {}]:
            for key, value in source.items():
                if _is_number(value):
                    per_key[key].append(float(value))
        for key, values in per_key.items():
            metrics[f"{PREFIX}{key}"].append(sum(values) / len(values))
    if not rewards:
        return {}
    groups: dict[int, list[float]] = defaultdict(list)
    for group, reward in rewards:
        groups[group].append(reward)
    means = {group: sum(values) / len(values) for group, values in groups.items()}
    out = {f"{PREFIX}reward": [r for _, r in rewards], f"{PREFIX}advantage": [r - means[g] for g, r in rewards]}
    out.update(metrics)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Distribution:
    """One metric's values per step; steps kept sorted."""

    steps: list[int] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def set_step(self, step: int, values: Sequence[float]) -> None:
        array = np.asarray(values, dtype=float)
        if step in self.steps:
            self.values[self.steps.index(step)] = array
            return
        index = int(np.searchsorted(self.steps, step))
        self.steps.insert(index, step)
        self.values.insert(index, array)

    def at(self, step: float) -> tuple[int, np.ndarray] | None:
        """The latest step at or before `step`, and its values."""
        index = int(np.searchsorted(self.steps, step, "right")) - 1
        return (self.steps[index], self.values[index]) if index >= 0 else None

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> np.ndarray:
        """(steps, len(qs)): each step's quantiles (numpy's linear interpolation)."""
        if not self.steps:
            return np.empty((0, len(qs)))
        return np.stack([np.quantile(values, qs) if values.size else np.full(len(qs), np.nan) for values in self.values])

    def value_range(self) -> tuple[float, float] | None:
        finite = [values[np.isfinite(values)] for values in self.values if values.size]
        finite = [values for values in finite if values.size]
        if not finite:
            return None
        return min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)


def density(columns: Sequence[np.ndarray], low: float, high: float, rows: int) -> np.ndarray:
    """(rows, len(columns)) counts of each column's values in `rows` equal bins from `low` (row 0)
    to `high`; the top bin includes `high`."""
    out = np.zeros((rows, len(columns)), dtype=np.int64)
    span = (high - low) or 1.0
    for index, values in enumerate(columns):
        finite = values[np.isfinite(values)]
        if finite.size:
            bins = np.clip(((finite - low) / span * rows).astype(np.int64), 0, rows - 1)
            out[:, index] = np.bincount(bins, minlength=rows)
    return out


@dataclass
class RolloutFiles:
    """The cookbook's per-iteration rollout files of one run dir, followed: `poll()` returns the
    names of the distributions that changed."""

    run_dir: Path
    distributions: dict[str, Distribution] = field(default_factory=dict)
    _sizes: dict[int, int] = field(default_factory=dict)

    def poll(self) -> set[str]:
        changed: set[str] = set()
        try:
            entries = list(os.scandir(self.run_dir))
        except OSError:
            return changed
        for entry in entries:
            found = ITERATION_DIR.match(entry.name)
            if found is None or not entry.is_dir():
                continue
            step = int(found[1])
            path = Path(entry.path) / ROLLOUTS_FILE
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if self._sizes.get(step) == size:
                continue
            self._sizes[step] = size
            for name, values in rollout_values(_complete_rows(path)).items():
                self.distributions.setdefault(name, Distribution()).set_step(step, values)
                changed.add(name)
        return changed


def _complete_rows(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a line still being written
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
