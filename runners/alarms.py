"""Alarms: the signs that a run is going wrong, read from its run dir alone.

A run that stalls (a paused service, a hung future) looks like a run that works, and an RL run
whose sample/train KL climbs, whose entropy collapses or whose groups all score alike learns
nothing while its loss curve looks fine. `check_run` flags these from metrics.jsonl and
status.json, so the headless runner, the run screen, the runs table and `cookbook-tui runs` all
say the same thing. Thresholds have defaults and may be set in `<config dir>/alarms.toml`:

    kl_sample_train_max = 0.01        # optim/kl_sample_train_v1 above this
    entropy_drop_fraction = 0.5       # optim/entropy below (1 - this) x its first value
    constant_group_fraction = 0.9     # more than this share of groups with one reward
    stall_factor = 5.0                # no new step for this many median step times
    stall_min_seconds = 30.0          # ... and at least this long

Stdlib only (the TUI imports it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cookbook_tui.runners.rundir import METRICS_FILE, RunStatus, read_metrics, read_status, steps_done

KL_KEY = "optim/kl_sample_train_v1"
ENTROPY_KEY = "optim/entropy"
MIXED_GROUPS_KEY = "env/all/by_group/frac_mixed"  # rl.metric_util: share of groups with >1 reward
ALARMS_FILE = "alarms.toml"
CONSTANT_GROUP_STEPS = 5  # the constant-reward share is averaged over this many logged steps


@dataclass(frozen=True)
class AlarmThresholds:
    kl_sample_train_max: float = 0.01
    entropy_drop_fraction: float = 0.5
    constant_group_fraction: float = 0.9
    stall_factor: float = 5.0
    stall_min_seconds: float = 30.0


@dataclass(frozen=True)
class Alarm:
    kind: str  # "kl" | "entropy" | "constant_reward" | "non_finite" | "stalled"
    message: str
    step: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "step": self.step}


def load_thresholds(config_dir: Path | None = None) -> AlarmThresholds:
    """Defaults, overridden by `alarms.toml` in the config dir; a bad file raises ValueError
    naming the file and key."""
    if config_dir is None:
        from cookbook_tui.common.dirs import user_config_dir

        config_dir = user_config_dir()
    path = Path(config_dir) / ALARMS_FILE
    if not path.is_file():
        return AlarmThresholds()
    import tomllib  # only when there is a file: the TUI's first frame imports this module

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    known = {f.name for f in fields(AlarmThresholds)}
    values: dict[str, float] = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{path}: {key} must be a number >= 0, got {value!r}")
        values[key] = float(value)
    return AlarmThresholds(**values)


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    out = []
    for row in rows:
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out.append((int(row["step"]), float(value)))
    return out


def _median_step_seconds(rows: list[dict[str, Any]]) -> float | None:
    """From the loops' own per-step timing (`time/total`), when they log it."""
    timed = [v for _, v in _series(rows, "time/total") if v > 0]
    if not timed:
        return None
    timed.sort()
    middle = len(timed) // 2
    return timed[middle] if len(timed) % 2 else (timed[middle - 1] + timed[middle]) / 2


def check_metrics(rows: list[dict[str, Any]], thresholds: AlarmThresholds = AlarmThresholds()) -> list[Alarm]:
    """The alarms that the metric rows alone show (one per kind, the latest evidence)."""
    alarms: list[Alarm] = []
    for row in reversed(rows):
        bad = sorted(
            k
            for k, v in row.items()
            if isinstance(v, float) and not math.isfinite(v)
        )
        if bad:
            alarms.append(Alarm("non_finite", f"{', '.join(bad)} = {row[bad[0]]} at step {row['step']}", row["step"]))
            break
    kl = _series(rows, KL_KEY)
    if kl and kl[-1][1] > thresholds.kl_sample_train_max:
        step, value = kl[-1]
        alarms.append(
            Alarm("kl", f"{KL_KEY} {value:.3g} > {thresholds.kl_sample_train_max:g} (sampler and trainer disagree)", step)
        )
    entropy = _series(rows, ENTROPY_KEY)
    if len(entropy) >= 2 and entropy[0][1] > 0:
        first, (step, last) = entropy[0][1], entropy[-1]
        if last < (1.0 - thresholds.entropy_drop_fraction) * first:
            alarms.append(Alarm("entropy", f"{ENTROPY_KEY} fell from {first:.3g} to {last:.3g} (collapse)", step))
    mixed = _series(rows, MIXED_GROUPS_KEY)[-CONSTANT_GROUP_STEPS:]
    if mixed:
        # over the last few steps: one batch of 8 groups all failing is noise, five in a row is not
        step = mixed[-1][0]
        constant = 1.0 - sum(v for _, v in mixed) / len(mixed)
        if constant > thresholds.constant_group_fraction:
            alarms.append(
                Alarm(
                    "constant_reward",
                    f"{constant:.0%} of groups over the last {len(mixed)} steps have one reward for every"
                    " rollout (no learning signal)",
                    step,
                )
            )
    return alarms


def stall_alarm(
    state: str | None,
    last_step_at: float | None,
    started_at: float | None,
    steps: int,
    seconds_per_step: float | None,
    now: float,
    thresholds: AlarmThresholds = AlarmThresholds(),
) -> Alarm | None:
    """A running run with no new step for `stall_factor` step times (epoch seconds throughout;
    `last_step_at` is when metrics.jsonl last grew, `seconds_per_step` the run's own pace when it
    logs `time/total`, else the mean pace since `started_at`)."""
    if state != "running":
        return None
    reference = last_step_at if steps and last_step_at is not None else started_at
    if reference is None:
        return None
    if seconds_per_step is None and steps and started_at is not None and last_step_at is not None:
        seconds_per_step = max(last_step_at - started_at, 0.0) / steps
    limit = max(thresholds.stall_factor * (seconds_per_step or 0.0), thresholds.stall_min_seconds)
    waited = now - reference
    if waited <= limit:
        return None
    what = f"after step {steps - 1}" if steps else "since the start"
    return Alarm("stalled", f"no new step for {waited:.0f} s {what} (limit {limit:.0f} s)", steps - 1 if steps else None)


def check_stalled(
    rows: list[dict[str, Any]],
    status: RunStatus,
    last_write: float | None,
    now: float,
    thresholds: AlarmThresholds = AlarmThresholds(),
) -> Alarm | None:
    """`stall_alarm` for a run's rows and status.json (`last_write`: the metrics file's mtime)."""
    started = status.started_at
    return stall_alarm(
        status.state, last_write, started.timestamp() if started else None,
        (steps_done(rows[-1]["step"]) if rows else None) or 0, _median_step_seconds(rows), now, thresholds,
    )


def check_run(
    run_dir: Path,
    thresholds: AlarmThresholds | None = None,
    now: float | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> list[Alarm]:
    """Every alarm for a run dir (ours or tinker-cookbook's alone)."""
    run_dir = Path(run_dir)
    thresholds = thresholds or AlarmThresholds()
    rows = read_metrics(run_dir) if rows is None else rows
    alarms = check_metrics(rows, thresholds)
    try:
        last_write: float | None = (run_dir / METRICS_FILE).stat().st_mtime
    except OSError:
        last_write = None
    stalled = check_stalled(rows, read_status(run_dir), last_write, time.time() if now is None else now, thresholds)
    if stalled is not None:
        alarms.append(stalled)
    return alarms


class AlarmWatch:
    """Follows a run's rows as they come (the headless runner, the run screen, the runs table):
    `feed` returns the alarms that start with this row, `current` those in force now. Keeps only
    what the checks need, so it costs nothing per row on long runs."""

    def __init__(self, thresholds: AlarmThresholds | None = None) -> None:
        self.thresholds = thresholds or AlarmThresholds()
        self._first_entropy: dict[str, Any] | None = None
        self._non_finite: Alarm | None = None  # once seen, it stays: the run is damaged
        self._recent_mixed: list[dict[str, Any]] = []  # the last rows with the groups' share
        self.current: list[Alarm] = []

    def feed_rows(self, rows: list[dict[str, Any]]) -> list[Alarm]:
        """`feed` for a batch (a poll's new rows, a history read): every row is scanned for
        non-finite values and the first entropy, the latest row decides the rest."""
        rows = [row for row in rows if isinstance(row.get("step"), int)]
        if not rows:
            return []
        if self._first_entropy is None:
            self._first_entropy = next((row for row in rows if _series([row], ENTROPY_KEY)), None)
        if self._non_finite is None:
            for row in rows:
                bad = [k for k, v in row.items() if type(v) is float and not math.isfinite(v)]
                if bad:
                    self._non_finite = Alarm("non_finite", f"{', '.join(sorted(bad))} = {row[bad[0]]} at step {row['step']}", row["step"])
                    break
        for row in rows[-CONSTANT_GROUP_STEPS:-1]:
            if _series([row], MIXED_GROUPS_KEY):
                self._recent_mixed = (self._recent_mixed + [row])[-CONSTANT_GROUP_STEPS:]
        return self.feed(rows[-1])

    def feed(self, row: dict[str, Any]) -> list[Alarm]:
        if not isinstance(row.get("step"), int):
            return []
        if self._first_entropy is None and _series([row], ENTROPY_KEY):
            self._first_entropy = row
        if _series([row], MIXED_GROUPS_KEY):
            self._recent_mixed = (self._recent_mixed + [row])[-CONSTANT_GROUP_STEPS:]
        history = [r for r in (self._first_entropy, *self._recent_mixed[:-1], row) if r is not None]
        history = list({id(r): r for r in history}.values())  # the same row once, in order
        found = {a.kind: a for a in check_metrics(history, self.thresholds)}
        if self._non_finite is None and "non_finite" in found:
            self._non_finite = found["non_finite"]
        if self._non_finite is not None:
            found["non_finite"] = self._non_finite
        before = {a.kind for a in self.current}
        self.current = list(found.values())
        return [a for a in self.current if a.kind not in before]


def safe_thresholds() -> AlarmThresholds:
    """The user's thresholds, or the defaults when alarms.toml is broken (`cookbook-tui runs` and
    `--run` name the problem; a screen just keeps working)."""
    try:
        return load_thresholds()
    except ValueError:
        return AlarmThresholds()
