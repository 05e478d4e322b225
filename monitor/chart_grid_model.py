"""The state of a chart grid, one run or several: which charts are on the page, the inspect cursor,
zoom, smoothing, x axis, log-Y per chart, and the series each chart draws.

Plain Python (the drawing is numpy, in chart_canvas): the widgets hold one `GridModel`, call its
methods from key bindings, and draw what `page()` and `series_for()` give them.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cookbook_tui.monitor.chart_canvas import PlotSeries
from cookbook_tui.monitor.chart_merge import ChartMerges
from cookbook_tui.monitor.chart_model import (
    ELAPSED_KEYS,
    SMOOTHING_MAX,
    TOKEN_KEYS,
    ChartOrder,
    EmaState,
    compile_filter,
    cumulative_axis,
    map_steps,
    run_colour,
)
from cookbook_tui.monitor.distributions import Distribution

Columns = dict[str, tuple[list[int], list[float]]]

SMOOTHING_STEPS = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, SMOOTHING_MAX)
DEFAULT_SMOOTHING = 0.6  # TensorBoard's default
X_AXES = ("step", "time", "tokens")
X_UNITS = {"step": "step", "time": "s", "tokens": "tok"}


@dataclass
class ChartRun:
    """One run's metric columns as the grid sees them; `columns` is replaced on every poll."""

    label: str
    colour: str
    columns: Columns = field(default_factory=dict)
    workflow: str | None = None
    distributions: dict[str, Distribution] = field(default_factory=dict)  # per-rollout values a step: heatmaps
    _ema: dict[str, EmaState] = field(default_factory=dict)
    _axes: dict[str, tuple[int, tuple[list[int], list[float]]]] = field(default_factory=dict)
    # numpy copies of the columns, grown by their new tail: a redraw never converts 100k points
    _arrays: dict[tuple[str, str], tuple[int, np.ndarray]] = field(default_factory=dict)

    def _array(self, name: str, source: list, tag: str = "") -> np.ndarray:
        key = (name, tag)
        cached = self._arrays.get(key)
        if cached is not None and cached[0] == id(source) and len(cached[1]) <= len(source):
            done = len(cached[1])
            if done == len(source):
                return cached[1]
            array = np.concatenate((cached[1], np.asarray(source[done:], dtype=float)))
        else:
            array = np.asarray(source, dtype=float)
        self._arrays[key] = (id(source), array)
        return array

    def arrays(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        steps, values = self.columns[key]
        return self._array(key, steps, "steps"), self._array(key, values, "values")

    def smoothed_array(self, key: str, weight: float) -> np.ndarray:
        out = self.smoothed(key, weight)
        return self._array(key, out, f"ema{weight}")

    def smoothed(self, key: str, weight: float) -> list[float]:
        steps, values = self.columns[key]
        state = self._ema.get(key)
        if state is None or state.weight != weight or len(state.out) > len(values):
            state = self._ema[key] = EmaState(weight)
        done = len(state.out)
        if done < len(values):
            state.extend(steps[done:], values[done:])
        return state.out

    def steps_of(self, key: str) -> Sequence[int]:
        """The steps a metric, or a distribution, has in this run."""
        if key in self.columns:
            return self.columns[key][0]
        dist = self.distributions.get(key)
        return dist.steps if dist is not None else []

    def axis(self, mode: str) -> tuple[list[int], list[float]] | None:
        """The cumulative x axis for `mode` ("time": seconds from the step times the run logs;
        "tokens": tokens trained on), or None when the run logs neither."""
        keys = ELAPSED_KEYS if mode == "time" else TOKEN_KEYS if mode == "tokens" else ()
        key = next((k for k in keys if k in self.columns), None)
        if key is None:
            return None
        steps, values = self.columns[key]
        cached = self._axes.get(mode)
        if cached is None or cached[0] != len(values):
            cached = (len(values), cumulative_axis(steps, values))
            self._axes[mode] = cached
        return cached[1]


@dataclass
class GridModel:
    runs: list[ChartRun] = field(default_factory=list)
    order: ChartOrder = field(default_factory=ChartOrder)
    filter_text: str = ""
    filter_error: str | None = None
    page_index: int = 0
    per_page: int = 4
    selected: int = 0  # index on the page
    cursor: float | None = None  # a step
    # Follow mode (End, and a new run screen): the cursor stays on the newest step as rows arrive;
    # any other cursor key leaves it.
    follow: bool = False
    zoom: tuple[float, float] | None = None  # in steps
    zoom_mark: float | None = None
    smoothing: float = DEFAULT_SMOOTHING
    last_smoothing: float = DEFAULT_SMOOTHING
    x_axis: str = "step"
    log_y: set[str] = field(default_factory=set)
    merges: ChartMerges = field(default_factory=ChartMerges)
    marked: list[str] = field(default_factory=list)  # charts marked to merge (space), in order
    _pattern: re.Pattern[str] | None = None

    # ---- which charts
    def keys(self) -> list[str]:
        """The charts, in order: one a metric, or one for each group of merged metrics."""
        present: dict[str, None] = {}
        for run in self.runs:
            present.update(dict.fromkeys(run.columns))
            present.update(dict.fromkeys(run.distributions))
            self.order.update(run.workflow, list(run.columns))
        charts = self.merges.apply(self.order.ordered(list(present)))
        if self._pattern is not None:
            pattern = self._pattern
            charts = [chart for chart in charts if any(pattern.search(key) for key in self.merges.members(chart))]
        return charts

    def page_count(self) -> int:
        return max(1, math.ceil(len(self.keys()) / max(self.per_page, 1)))

    def page(self) -> list[str]:
        keys = self.keys()
        self.page_index = min(self.page_index, max(0, math.ceil(len(keys) / max(self.per_page, 1)) - 1))
        start = self.page_index * self.per_page
        shown = keys[start : start + self.per_page]
        self.selected = min(self.selected, max(len(shown) - 1, 0))
        return shown

    def selected_key(self) -> str | None:
        shown = self.page()
        return shown[self.selected] if shown else None

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._pattern, self.filter_error = compile_filter(text)
        self.page_index = 0
        self.selected = 0

    def turn_page(self, delta: int) -> None:
        self.page_index = min(max(self.page_index + delta, 0), self.page_count() - 1)
        self.selected = 0

    def move_selection(self, delta: int) -> None:
        """Up/down through the charts; past the page's edge onto the next or previous page."""
        shown = len(self.page())
        target = self.selected + delta
        if target >= shown and self.page_index < self.page_count() - 1:
            self.turn_page(1)
        elif target < 0 and self.page_index > 0:
            self.turn_page(-1)
            self.selected = len(self.page()) - 1
        else:
            self.selected = min(max(target, 0), max(shown - 1, 0))

    def toggle_pin(self) -> bool | None:
        """Pin or unpin the selected chart (a merged chart: all its metrics together)."""
        chart = self.selected_key()
        if chart is None:
            return None
        members = self.merges.members(chart)
        pin = not any(key in self.order.pinned for key in members)
        for key in members:
            if (key in self.order.pinned) != pin:
                self.order.toggle_pin(key)
        return pin

    # ---- several metrics on one chart
    def toggle_mark(self) -> bool:
        """Mark or unmark the selected chart for merging; False for a distribution (a heatmap
        has no line to share a chart with)."""
        chart = self.selected_key()
        if chart in self.marked:
            self.marked.remove(chart)
        elif chart is not None:
            if self.heatmap_for(chart) is not None:
                return False
            self.marked.append(chart)
        return True

    def merge_or_split(self) -> str:
        """`g`: merge the marked charts (two or more) into one; else split the selected merged chart."""
        if len(self.marked) >= 2:
            merged = self.merges.merge(self.marked)
            self.marked = []
            if merged is not None:
                self.log_y.discard(merged)
                self.select(merged)
            return "merged"
        chart = self.selected_key()
        members = self.merges.split(chart) if chart is not None else None
        if members is not None:
            self.marked = []
            self.select(members[0])
            return "split"
        return "mark two or more charts (space), then g merges them"

    def select(self, chart: str) -> None:
        """Put the page and the selection on `chart`."""
        charts = self.keys()
        if chart in charts:
            index = charts.index(chart)
            per_page = max(self.per_page, 1)
            self.page_index, self.selected = index // per_page, index % per_page

    def toggle_log(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.log_y ^= {key}

    # ---- smoothing and axis
    def adjust_smoothing(self, delta: int) -> None:
        index = min(range(len(SMOOTHING_STEPS)), key=lambda i: abs(SMOOTHING_STEPS[i] - self.smoothing))
        self.smoothing = SMOOTHING_STEPS[min(max(index + delta, 0), len(SMOOTHING_STEPS) - 1)]
        if self.smoothing:
            self.last_smoothing = self.smoothing

    def toggle_smoothing(self) -> None:
        if self.smoothing:
            self.last_smoothing, self.smoothing = self.smoothing, 0.0
        else:
            self.smoothing = self.last_smoothing or DEFAULT_SMOOTHING

    def available_axes(self) -> list[str]:
        return ["step"] + [mode for mode in X_AXES[1:] if any(run.axis(mode) for run in self.runs)]

    def cycle_x_axis(self) -> str:
        axes = self.available_axes()
        self.x_axis = axes[(axes.index(self.x_axis) + 1) % len(axes)] if self.x_axis in axes else "step"
        return self.x_axis

    # ---- the cursor (in steps) and zoom
    def _cursor_steps(self) -> Sequence[int]:
        """The steps the cursor visits: those of the selected chart's longest series."""
        chart = self.selected_key()
        best: Sequence[int] = []
        for run in self.runs:
            for key in self.merges.members(chart) if chart is not None else ():
                steps = run.steps_of(key)
                if len(steps) > len(best):
                    best = steps
        return best

    def step_bounds(self) -> tuple[float, float] | None:
        if self.zoom is not None:
            return self.zoom
        steps = self._cursor_steps()
        return (steps[0], steps[-1]) if steps else None

    def newest_step(self) -> int | None:
        bounds = self.all_steps()
        return bounds[1] if bounds else None

    def follow_newest(self) -> None:
        """End: follow the newest step (a zoom fixes the range, so it goes)."""
        self.follow = True
        self.reset_zoom()
        self.sync_follow()

    def sync_follow(self) -> bool:
        """New rows: a following cursor moves onto the newest step. True when it moved."""
        if not self.follow:
            return False
        newest = self.newest_step()
        if newest is None or newest == self.cursor:
            return False
        self.cursor = newest
        return True

    def move_cursor(self, delta: int) -> None:
        self.follow = False
        steps = self._cursor_steps()
        if not steps:
            return
        if self.cursor is None:
            self.cursor = steps[-1] if (self.zoom is None or steps[-1] <= self.zoom[1]) else self.zoom[1]
            return
        if delta > 0:
            index = bisect_right(steps, self.cursor) + delta - 1
        else:
            index = bisect_left(steps, self.cursor) + delta
        index = min(max(index, 0), len(steps) - 1)
        step: float = steps[index]
        if self.zoom is not None:
            step = min(max(step, self.zoom[0]), self.zoom[1])
        self.cursor = step

    def jump_cursor(self, fraction: float) -> None:
        """Move by a fraction of the visible step range (shift+arrows)."""
        self.follow = False
        bounds = self.step_bounds()
        if bounds is None:
            return
        if self.cursor is None:
            self.move_cursor(0)
            return
        span = max((bounds[1] - bounds[0]) * abs(fraction), 1)
        target = self.cursor + (span if fraction > 0 else -span)
        steps = self._cursor_steps()
        index = min(max(bisect_left(steps, target), 0), len(steps) - 1)
        if fraction < 0 and steps[index] > target and index > 0:
            index -= 1
        self.cursor = min(max(steps[index], bounds[0]), bounds[1])

    def cursor_to_start(self) -> None:
        """Home: the first step in view."""
        self.follow = False
        bounds = self.step_bounds()
        if bounds is not None:
            self.cursor = bounds[0]

    def zoom_key(self) -> str:
        """`z` once marks the cursor's step; `z` again zooms to the marked range."""
        self.follow = False
        if self.cursor is None:
            self.move_cursor(0)
        if self.zoom_mark is None:
            self.zoom_mark = self.cursor
            return "marked"
        if self.cursor is None:  # no steps to put it on
            return "too narrow"
        low, high = sorted((self.zoom_mark, self.cursor))
        self.zoom_mark = None
        if high - low < 1:
            return "too narrow"
        self.zoom = (low, high)
        return "zoomed"

    def reset_zoom(self) -> None:
        self.zoom = None
        self.zoom_mark = None

    # ---- what a chart draws
    def x_of(self, run: ChartRun, steps: np.ndarray) -> np.ndarray:
        if self.x_axis == "step":
            return steps
        axis = run.axis(self.x_axis)
        if axis is None:
            return steps
        axis_steps, axis_values = np.asarray(axis[0], dtype=float), np.asarray(axis[1], dtype=float)
        index = np.searchsorted(axis_steps, steps, "right") - 1
        return np.where(index >= 0, axis_values[np.clip(index, 0, None)], 0.0)

    def all_steps(self) -> tuple[int, int] | None:
        """The first and last step any metric of any run has: every chart spans them, so the
        cursor stands at the same column on all of them."""
        firsts = [steps[0] for run in self.runs for steps, _ in run.columns.values() if steps]
        lasts = [steps[-1] for run in self.runs for steps, _ in run.columns.values() if steps]
        return (min(firsts), max(lasts)) if firsts else None

    def x_range(self) -> tuple[float, float] | None:
        """The x range all charts share (the zoom, or every step), on the current x axis."""
        steps = self.zoom or self.all_steps()
        if steps is None:
            return None
        if steps[1] <= steps[0]:
            steps = (steps[0] - 0.5, steps[1] + 0.5)
        if self.x_axis == "step":
            return steps
        positions = [x for run in self.runs if (axis := run.axis(self.x_axis)) for x in map_steps(list(steps), axis)]
        return (min(positions), max(positions)) if positions and max(positions) > min(positions) else None

    def heatmap_for(self, chart: str) -> tuple[Distribution, np.ndarray, str] | None:
        """A distribution chart's values (the first run that has them), their x positions and colour."""
        for run in self.runs:
            dist = run.distributions.get(chart)
            if dist is not None and dist.steps:
                return dist, self.x_of(run, np.asarray(dist.steps, dtype=float)), run.colour
        return None

    def series_for(self, chart: str) -> list[PlotSeries]:
        """What a chart draws: one series a run, or for a merged chart one a run and metric, each
        in its own colour and named by its metric."""
        members = self.merges.members(chart)
        merged = len(members) > 1
        out = []
        for run in self.runs:
            for key in members:
                column = run.columns.get(key)
                if not column or not column[0]:
                    continue
                steps, values = run.arrays(key)
                smoothed = run.smoothed_array(key, self.smoothing) if self.smoothing > 0 and len(values) > 1 else None
                label, colour = run.label, run.colour
                if merged:
                    label = f"{run.label} {key}".strip()
                    label = label if len(label) <= 24 else "…" + label[-23:]  # a metric's end says most
                    colour = run_colour(self.runs.index(run) * len(members) + members.index(key))
                out.append(PlotSeries(label, self.x_of(run, steps), steps, values, smoothed, colour))
        return out


def chart_runs(labels: Sequence[str], workflows: Sequence[str | None] = ()) -> list[ChartRun]:
    """One ChartRun per label, each with its stable colour (its position in the list)."""
    workflows = list(workflows) + [None] * (len(labels) - len(workflows))
    return [ChartRun(label, run_colour(i), workflow=wf) for i, (label, wf) in enumerate(zip(labels, workflows))]
