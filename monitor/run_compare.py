"""What differs between runs, and how they did: the compare screen's config diff, short run labels
and summary rows. Plain Python (stdlib only), unit-tested in tests/tui/test_run_compare.py.

A run's configuration is its recipe.toml (ours) and config.json (tinker-cookbook's resolved chz
config, which run dirs written by the cookbook alone also have), flattened to dotted keys.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookbook_tui.monitor.chart_model import compact
from cookbook_tui.runners.headlines import headline_keys
from cookbook_tui.runners.rundir import CONFIG_FILE, RECIPE_FILE, read_json, steps_done

# Keys that differ between any two runs without saying anything about them.
NOISE_KEYS = ("log_path", "log_dir", "wandb_name", "wandb_project", "base_url", "load_checkpoint_path", "run_dir")
# Short names for the keys people vary most, for run labels (`lr=3e-3`).
ABBREVIATIONS = {
    "learning_rate": "lr", "batch_size": "bs", "lora_rank": "rank", "group_size": "group",
    "groups_per_batch": "groups", "max_tokens": "max_tok", "num_epochs": "epochs", "max_steps": "steps",
    "kl_penalty_coef": "kl", "dpo_beta": "beta", "temperature": "temp", "model_name": "model", "base_model": "model",
}
MAX_RUNS = 8


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}{index}."))
    else:
        out[prefix[:-1]] = data
    return out


def run_config(run_dir: Path) -> dict[str, Any]:
    """recipe.toml's keys as `recipe:<key>` and config.json's as `config:<key>`."""
    config: dict[str, Any] = {}
    try:
        config.update({f"recipe:{k}": v for k, v in flatten(tomllib.loads((run_dir / RECIPE_FILE).read_text("utf-8"))).items()})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        pass
    raw = read_json(run_dir / CONFIG_FILE)
    if raw is not None:
        config.update({f"config:{k}": v for k, v in flatten(raw).items()})
    return config


class ConfigCache:
    """Each run's `run_config`, read again only when its recipe.toml or config.json changes (the
    runs list reads every run every two seconds)."""

    def __init__(self) -> None:
        self._configs: dict[Path, tuple[tuple[float, float], dict[str, Any]]] = {}

    def get(self, run_dir: Path) -> dict[str, Any]:
        stamp = (_mtime(run_dir / RECIPE_FILE), _mtime(run_dir / CONFIG_FILE))
        cached = self._configs.get(run_dir)
        if cached is None or cached[0] != stamp:
            cached = self._configs[run_dir] = (stamp, run_config(run_dir))
        return cached[1]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _is_noise(key: str, values: Sequence[Any], run_dirs: Sequence[Path]) -> bool:
    last = key.rsplit(".", 1)[-1].split(":", 1)[-1]
    if last in NOISE_KEYS:
        return True
    dirs = {str(d) for d in run_dirs} | {str(d.resolve()) for d in run_dirs}
    return all(isinstance(v, str) and any(d in v for d in dirs) for v in values if v is not None)


@dataclass(frozen=True)
class DiffRow:
    key: str
    values: tuple[Any, ...]  # one per run; None where a run does not have the key


def config_diff(configs: Sequence[dict[str, Any]], run_dirs: Sequence[Path] = ()) -> list[DiffRow]:
    """Only the keys whose values differ between the runs, recipe keys first, each in file order."""
    keys: dict[str, None] = {}
    for config in configs:
        keys.update(dict.fromkeys(config))
    rows = []
    for key in keys:
        values = tuple(config.get(key) for config in configs)
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1 and not _is_noise(key, values, run_dirs):
            rows.append(DiffRow(key, values))
    rows.sort(key=lambda row: not row.key.startswith("recipe:"))
    return rows


def format_value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return compact(value)
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _leaf(key: str) -> str:
    return key.rsplit(".", 1)[-1].split(":", 1)[-1]


def short_labels(names: Sequence[str], diff: Sequence[DiffRow], max_parts: int = 2) -> list[str]:
    """The recipe name plus what differs (`arithmetic-sft lr=3e-3`): differing keys are added, recipe
    keys first, while each tells apart runs the label so far does not; runs that still look alike
    get `#1`, `#2` by position."""
    parts: list[list[str]] = [[] for _ in names]

    def labels() -> list[str]:
        return [" ".join([name] + extra) for name, extra in zip(names, parts)]

    seen_leaf: set[str] = set()
    for row in diff:
        leaf = _leaf(row.key)
        if leaf in seen_leaf or leaf in ("name", "workflow") or len(parts[0]) >= max_parts:
            continue
        seen_leaf.add(leaf)
        before = len(set(labels()))
        trial = [extra + ([f"{ABBREVIATIONS.get(leaf, leaf)}={format_value(v)}"] if v is not None else [])
                 for extra, v in zip(parts, row.values)]
        if len({" ".join([n] + t) for n, t in zip(names, trial)}) > before:
            parts = trial
    out = labels()
    if len(set(out)) < len(out):
        out = [f"{label} #{i + 1}" for i, label in enumerate(out)]
    return out


def better_is_lower(key: str) -> bool:
    leaf = key.rsplit("/", 1)[-1]
    return any(word in leaf for word in ("loss", "nll", "kl", "error", "perplexity"))


@dataclass
class SummaryRow:
    label: str
    steps: int | None
    duration_s: float | None
    final: dict[str, float]
    best: dict[str, float]


def summarise(label: str, columns: dict[str, tuple[list[int], list[float]]], keys: Sequence[str],
              duration_s: float | None) -> SummaryRow:
    final, best = {}, {}
    for key in keys:
        if key not in columns:
            continue
        values = [v for v in columns[key][1] if math.isfinite(v)]
        if values:
            final[key] = values[-1]
            best[key] = min(values) if better_is_lower(key) else max(values)
    last_steps = [steps[-1] for steps, _ in columns.values() if steps]
    return SummaryRow(label, steps_done(max(last_steps)) if last_steps else None, duration_s, final, best)


def summary_keys(workflows: Sequence[str | None], key_sets: Sequence[Sequence[str]]) -> list[str]:
    """The headline metrics of every compared run, in order, without repeats."""
    keys: dict[str, None] = {}
    for workflow, present in zip(workflows, key_sets):
        keys.update(dict.fromkeys(headline_keys(workflow, present)))
    return list(keys)
