"""The chart model: which metrics get a chart and in what order, smoothing, ticks, labels, legends.

Plain Python (no textual, no numpy): the chart widgets only draw what this module decides, and its
rules are unit-tested on their own (tests/tui/test_chart_model.py). Everything is derived from the
metric keys a run's metrics.jsonl holds, so a run dir written by tinker-cookbook alone gets the same
grid as one of ours.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cookbook_tui.runners.headlines import headline_keys

if TYPE_CHECKING:  # what bisect takes: a list, or the numpy arrays the chart grid bins
    from _typeshed import SupportsLenAndGetItem

# Groups by prefix, in this order; unknown prefixes follow alphabetically, top-level keys come first.
PREFIX_ORDER = ("", "env", "rollouts", "optim", "test", "samples", "engine", "progress", "time", "system")
# The x axes a chart can use, and the metrics each derives from (per-step values, summed).
ELAPSED_KEYS = ("time/total", "time/step")
TOKEN_KEYS = ("num_tokens", "num_loss_tokens")

SMOOTHING_MAX = 0.99


def prefix_of(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def group_rank(key: str) -> tuple[int, str]:
    prefix = prefix_of(key)
    if prefix in PREFIX_ORDER:
        return (PREFIX_ORDER.index(prefix), "")
    return (len(PREFIX_ORDER), prefix)


def compile_filter(pattern: str) -> tuple[re.Pattern[str] | None, str | None]:
    """A case-insensitive regex; a pattern that is not one is matched literally, and the error says so."""
    if not pattern:
        return None, None
    try:
        return re.compile(pattern, re.IGNORECASE), None
    except re.error as error:
        return re.compile(re.escape(pattern), re.IGNORECASE), f"not a regex ({error}); matched literally"


@dataclass
class ChartOrder:
    """Which charts exist and in what order: pinned ones first (the workflow's headline charts until
    the user unpins them), then every other metric grouped by prefix; a filter narrows them."""

    pinned: list[str] = field(default_factory=list)
    unpinned: set[str] = field(default_factory=set)  # headline keys the user unpinned
    seen_headline: set[str] = field(default_factory=set)

    def update(self, workflow: str | None, keys: Sequence[str]) -> None:
        for key in headline_keys(workflow, keys):
            if key not in self.seen_headline:
                self.seen_headline.add(key)
                if key not in self.unpinned and key not in self.pinned:
                    self.pinned.append(key)

    def toggle_pin(self, key: str) -> bool:
        """Pin or unpin `key`; returns whether it is pinned now."""
        if key in self.pinned:
            self.pinned.remove(key)
            self.unpinned.add(key)
            return False
        self.pinned.append(key)
        self.unpinned.discard(key)
        return True

    def ordered(self, keys: Sequence[str], pattern: re.Pattern[str] | None = None) -> list[str]:
        present = set(keys)
        pinned = [key for key in self.pinned if key in present]
        rest = sorted((key for key in present if key not in pinned), key=lambda k: (group_rank(k), k))
        ordered = pinned + rest
        if pattern is not None:
            ordered = [key for key in ordered if pattern.search(key)]
        return ordered


def grid_shape(width: int, height: int, min_width: int = 56, min_height: int = 15) -> tuple[int, int]:
    """(columns, rows) of charts that fit: 2×2 at 120×40, 3×3 at 200×60."""
    return max(1, width // min_width), max(1, height // min_height)


# ----------------------------------------------------------------------------------- smoothing


def ema(steps: Sequence[float], values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased EMA, with the decay applied once per step of distance, so a metric
    logged every 25 steps is smoothed over 25-step horizons and does not lag behind its points."""
    return EmaState(weight).extend(steps, values)


@dataclass
class EmaState:
    """The running state of `ema`, so a growing series is smoothed only on its new points."""

    weight: float
    average: float = 0.0
    norm: float = 0.0
    last_step: float | None = None
    out: list[float] = field(default_factory=list)

    def extend(self, steps: Sequence[float], values: Sequence[float]) -> list[float]:
        weight = min(max(self.weight, 0.0), SMOOTHING_MAX)
        average, norm, last, out = self.average, self.norm, self.last_step, self.out
        for step, value in zip(steps, values):
            if not math.isfinite(value):
                out.append(value)
                continue
            decay = weight if last is None else weight ** max(step - last, 1)
            average = decay * average + (1 - decay) * value
            norm = decay * norm + (1 - decay)
            out.append(average / norm if norm > 0 else value)
            last = step
        self.average, self.norm, self.last_step = average, norm, last
        return out


# ----------------------------------------------------------------------------------- labels, ticks


def compact(value: float, digits: int = 3) -> str:
    """3.4k, 1.2M, 0.693, 1.2e-7: short enough for an axis, exact enough to read."""
    if value is None or not math.isfinite(value):
        return "–" if value is None else str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            text = f"{value / limit:.{digits}g}"
            return text + suffix
    if magnitude < 1e-3:
        mantissa, exponent = f"{value:.{max(digits - 1, 0)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.{digits}g}"


def nice_step(span: float, max_ticks: int) -> float:
    raw = span / max(max_ticks, 1)
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * 10**exponent
        if step >= raw:
            return step
    return 10 ** (exponent + 1)


def ticks(low: float, high: float, max_ticks: int, integer: bool = False) -> list[float]:
    """Round tick values inside [low, high]; `integer` (steps) never gives a fractional tick."""
    if not (math.isfinite(low) and math.isfinite(high)) or max_ticks < 1:
        return []
    if high <= low:
        return [low]
    step = nice_step(high - low, max_ticks)
    if integer:
        step = max(1, round(step)) if step >= 1 else 1
        if step not in (1, 2, 5) and step < 10:
            step = 5 if step > 2 else 2
    first = math.ceil(low / step - 1e-9) * step
    out = []
    value = first
    while value <= high + step * 1e-9:
        out.append(float(int(round(value))) if integer else round(value, 12))
        value += step
    return out


def tick_labels(values: Sequence[float]) -> list[str]:
    """Compact labels with as many digits as it takes for neighbouring ticks to differ."""
    for digits in (2, 3, 4, 5, 6):
        labels = [compact(v, digits) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [compact(v, 6) for v in values]


def log_ticks(low: float, high: float, max_ticks: int) -> list[float]:
    """Ticks for a log axis, given log10 bounds: whole decades when there are enough of them."""
    first, last = math.ceil(low), math.floor(high)
    if last - first + 1 >= 2:
        every = max(1, math.ceil((last - first + 1) / max(max_ticks, 1)))
        return [float(e) for e in range(first, last + 1, every)]
    return ticks(low, high, max_ticks)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# ----------------------------------------------------------------------------------- series


@dataclass(frozen=True)
class SeriesStats:
    last: float
    low: float
    high: float


def stats(values: Sequence[float]) -> SeriesStats | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return SeriesStats(finite[-1], min(finite), max(finite))


def value_at(
    steps: SupportsLenAndGetItem[float], values: SupportsLenAndGetItem[float], step: float
) -> tuple[float, float] | None:
    """The series' (step, value) at `step`: its latest point at or before it (a sparse metric shows
    the value it last had)."""
    index = bisect_right(steps, step) - 1
    if index < 0:
        return None
    return steps[index], values[index]


def cumulative_axis(steps: Sequence[int], per_step: Sequence[float]) -> tuple[list[int], list[float]]:
    """An x axis from a per-step quantity (seconds, tokens): its running sum, step by step."""
    total, out = 0.0, []
    for value in per_step:
        total += value if math.isfinite(value) else 0.0
        out.append(total)
    return list(steps), out


def map_steps(steps: Sequence[float], axis: tuple[Sequence[int], Sequence[float]]) -> list[float]:
    """Each step's position on a cumulative axis (its latest value at or before the step)."""
    axis_steps, axis_values = axis
    out = []
    for step in steps:
        index = bisect_right(axis_steps, step) - 1
        out.append(axis_values[index] if index >= 0 else 0.0)
    return out


# Eight colours that stay apart on dark and light themes; a run keeps its colour by its index.
PALETTE = ("#4ea1ff", "#ff9f43", "#2ed573", "#ff6b81", "#a55eea", "#ffd32a", "#1dd1a1", "#c8d6e5")


def run_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]
