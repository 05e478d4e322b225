"""Drawing a distribution over steps into terminal cells: a density heatmap with its median.

Each column of the plot pools the steps that fall in it; each cell's shade (░ ▒ ▓ █) is the share
of that column's values in the cell's value range, against the column's fullest cell, and ━
marks the column's median. The legend gives the quantiles at the cursor's step (or the last).
Same layout rules as chart_canvas (gutter of y ticks, x ticks, legend below, cursor column).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cookbook_tui.monitor.chart_canvas import ChartLayout, Line, _pad, _x_tick_line
from cookbook_tui.monitor.chart_model import compact, tick_labels, ticks
from cookbook_tui.monitor.distributions import QUANTILES, Distribution, density

SHADES = "░▒▓█"
MEDIAN = "━"
CURSOR_BACKGROUND = "on #3a3a5a"


def heatmap_legend(dist: Distribution, layout: ChartLayout, colour: str, median_colour: str) -> list[Line]:
    """The step's count, quantiles and mean (at the cursor, else the last step), and a key to the shades."""
    if not dist.steps:
        return []
    at = dist.at(layout.cursor_step if layout.cursor_step is not None else dist.steps[-1])
    if at is None:
        line: Line = [("no rollouts at or before the cursor", "dim")]
    else:
        step, values = at
        finite = values[np.isfinite(values)]
        line = [("@", "dim"), (f"{step} ", "dim"), (f"n={finite.size}", "")]
        if finite.size:
            for q, value in zip(QUANTILES, np.quantile(finite, QUANTILES)):
                line += [(f" p{round(q * 100)} ", "dim"), (compact(float(value), 3), f"bold {median_colour}" if q == 0.5 else "bold")]
            line += [(" mean ", "dim"), (compact(round(float(finite.mean()), 12), 3), "")]  # not -5.6e-17
    key: Line = [(SHADES, colour), (" share of the step's rollouts  ", "dim"), (MEDIAN, f"bold {median_colour}"), (" median", "dim")]
    return [line, key][: max(layout.height - 3, 0)]


def render_heatmap(dist: Distribution, xs: Sequence[float] | np.ndarray, layout: ChartLayout, colour: str,
                   median_colour: str) -> list[Line]:
    """`layout.height` lines of styled runs; `xs` are the steps' positions on the chart's x axis."""
    width, height = layout.width, layout.height
    legend = heatmap_legend(dist, layout, colour, median_colour)
    plot_rows = height - len(legend) - 1
    bounds = dist.value_range()
    if plot_rows < 2 or width < 12 or bounds is None:
        text = "no values yet" if bounds is None and plot_rows >= 2 else ""
        return [_pad([(text if i == 0 else "", "dim")], width) for i in range(height)]
    y0, y1 = bounds
    if y1 - y0 <= 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    y_values = [v for v in ticks(y0, y1, max(plot_rows // 3, 2)) if y0 <= v <= y1]
    y_texts = tick_labels(y_values)
    gutter = max((len(t) for t in y_texts), default=1) + 1
    plot_w = width - gutter
    xs = np.asarray(xs, dtype=float)
    x0, x1 = layout.x_range or (float(xs[0]), float(xs[-1]))
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    columns: list[list[np.ndarray]] = [[] for _ in range(plot_w)]
    for x, values in zip(xs, dist.values):
        col = int(round((x - x0) / (x1 - x0) * (plot_w - 1)))
        if 0 <= col < plot_w:
            columns[col].append(values)
    pooled = [np.concatenate(parts) if parts else np.empty(0) for parts in columns]
    # fewer steps than columns: a step holds until the next one (as a line would join them)
    occupied = [col for col, parts in enumerate(columns) if parts]
    for left, right in zip(occupied, occupied[1:]):
        for col in range(left + 1, right):
            pooled[col] = pooled[left]
    counts = density(pooled, y0, y1, plot_rows)[::-1]  # row 0 on top
    fullest = counts.max(axis=0)
    medians = [_row_of(float(np.median(v[np.isfinite(v)])), y0, y1, plot_rows) if np.isfinite(v).any() else None
               for v in pooled]
    cursor_col = None
    if layout.cursor_step is not None and dist.steps:
        index = int(np.searchsorted(dist.steps, layout.cursor_step, "right")) - 1
        if index >= 0:
            cursor_col = int(round((xs[index] - x0) / (x1 - x0) * (plot_w - 1)))
    tick_rows: dict[int, str] = {}
    for value, text in zip(y_values, y_texts):
        tick_rows.setdefault(_row_of(value, y0, y1, plot_rows), text)
    lines: list[Line] = []
    for row in range(plot_rows):
        label = tick_rows.get(row, "")
        cells: list[tuple[str, str]] = []
        for col in range(plot_w):
            count, most = int(counts[row, col]), int(fullest[col])
            if medians[col] == row:
                char, style = MEDIAN, f"bold {median_colour}"
            elif count:
                char, style = SHADES[min(int(count / most * len(SHADES) - 1e-9), len(SHADES) - 1)], colour
            else:
                char, style = " ", ""
            if col == cursor_col:
                style = f"{style} {CURSOR_BACKGROUND}".strip()
            cells.append((char, style))
        lines.append([(label.rjust(gutter - 1), "dim"), ("┤" if label else "│", "dim"), *_merge_runs(cells)])
    lines.append(_x_tick_line(x0, x1, gutter, plot_w, layout))
    lines.extend(legend)
    return [_pad(line, width) for line in lines]


def _row_of(value: float, low: float, high: float, rows: int) -> int:
    """The plot row (0 on top) of a value, the same bins as `density`."""
    if not math.isfinite(value):
        return rows - 1
    bin_ = min(max(int((value - low) / ((high - low) or 1.0) * rows), 0), rows - 1)
    return rows - 1 - bin_


def _merge_runs(cells: list[tuple[str, str]]) -> Line:
    runs: Line = []
    for char, style in cells:
        if runs and runs[-1][1] == style:
            runs[-1] = (runs[-1][0] + char, style)
        else:
            runs.append((char, style))
    return runs
