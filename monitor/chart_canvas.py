"""Drawing one chart into terminal cells: braille dots for the curves, axes, ticks and a legend.

Why not plotext: its ticks are fractional on a step axis (`74.8 149.5`), its legend sits on the
data, it redraws every point (100k rows took seconds), and it has no cursor column. Here each
series is binned to the chart's dot columns with numpy (min/max per column, so a spike is never
lost) and the result is a list of styled text runs per line; the widget only turns them into
Strips. No textual here, so it is unit-tested as plain Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cookbook_tui.monitor.chart_model import SeriesStats, compact, log_ticks, tick_labels, ticks, value_at

# dot (row 0-3, column 0-1) of a braille cell -> its bit (U+2800 + bits)
_BRAILLE = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint16)

Run = tuple[str, str]  # (text, rich style)
Line = list[Run]


@dataclass
class PlotSeries:
    label: str
    xs: Sequence[float] | np.ndarray  # positions on the chart's x axis (steps, seconds or tokens)
    steps: Sequence[float] | np.ndarray  # the steps of the same points (the cursor moves in steps)
    values: Sequence[float] | np.ndarray
    smoothed: Sequence[float] | np.ndarray | None
    colour: str


@dataclass
class ChartLayout:
    width: int
    height: int
    log_y: bool = False
    x_range: tuple[float, float] | None = None  # zoom
    cursor_step: float | None = None
    x_integer: bool = True
    x_unit: str = ""
    max_legend_lines: int = 3


def _finite_xy(series: PlotSeries, log_y: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    xs = np.asarray(series.xs, dtype=float)
    ys = np.asarray(series.values, dtype=float)
    sm = np.asarray(series.smoothed, dtype=float) if series.smoothed is not None else None
    if log_y:
        with np.errstate(divide="ignore", invalid="ignore"):
            ys = np.where(ys > 0, np.log10(np.where(ys > 0, ys, 1.0)), np.nan)
            if sm is not None:
                sm = np.where(sm > 0, np.log10(np.where(sm > 0, sm, 1.0)), np.nan)
    return xs, ys, sm


def _dots(xs: np.ndarray, ys: np.ndarray, x0: float, x1: float, y0: float, y1: float, dot_w: int, dot_h: int) -> np.ndarray:
    """A (dot_h, dot_w) mask of the line through the points: per dot column the min..max of the
    points in it, joined to the previous column so the line has no gaps."""
    mask = np.zeros((dot_h, dot_w), dtype=bool)
    keep = np.isfinite(ys) & np.isfinite(xs)
    if not keep.all():
        xs, ys = xs[keep], ys[keep]
    if xs.size == 0:
        return mask
    # the points just outside a zoomed range keep the line going to the edge
    lo = max(int(np.searchsorted(xs, x0, "left")) - 1, 0)
    hi = min(int(np.searchsorted(xs, x1, "right")) + 1, xs.size)
    xs, ys = xs[lo:hi], ys[lo:hi]
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    cols = np.rint((xs - x0) / span_x * (dot_w - 1))
    rows = (ys - y0) / span_y * (dot_h - 1)
    if xs.size == 1:
        if 0 <= cols[0] <= dot_w - 1:
            mask[dot_h - 1 - int(np.clip(np.rint(rows[0]), 0, dot_h - 1)), int(cols[0])] = True
        return mask
    cols = np.clip(cols, -1, dot_w).astype(np.int64)
    starts = np.flatnonzero(np.diff(cols, prepend=cols[0] - 1))
    ends = np.append(starts[1:], cols.size) - 1
    occupied = cols[starts]
    low = np.minimum.reduceat(rows, starts)
    high = np.maximum.reduceat(rows, starts)
    first = rows[starts]
    last = rows[ends]
    every = np.arange(max(occupied[0], 0), min(occupied[-1], dot_w - 1) + 1)
    if every.size == 0:
        return mask
    start_value = np.interp(every, occupied, first)
    end_value = np.interp(every, occupied, last)
    column_low = np.interp(every, occupied, low)
    column_high = np.interp(every, occupied, high)
    has_points = np.isin(every, occupied)
    column_low = np.where(has_points, column_low, np.minimum(start_value, end_value))
    column_high = np.where(has_points, column_high, np.maximum(start_value, end_value))
    # join to where the previous column ended (and, at the zoom edge, to the point beyond it)
    previous_end = np.concatenate(([start_value[0]], end_value[:-1]))
    if occupied[0] < every[0]:
        previous_end[0] = float(np.interp(every[0] - 1, occupied, last))
    low_all = np.clip(np.rint(np.minimum(column_low, previous_end)), 0, dot_h - 1).astype(np.int64)
    high_all = np.clip(np.rint(np.maximum(column_high, previous_end)), 0, dot_h - 1).astype(np.int64)
    grid = np.arange(dot_h)[:, None]
    on = (grid >= low_all[None, :]) & (grid <= high_all[None, :])
    mask[::-1][:, every] = on  # row 0 of the mask is the top
    return mask


def _cells(mask: np.ndarray) -> np.ndarray:
    """Braille bits per cell of a (4·rows, 2·cols) dot mask."""
    rows, cols = mask.shape[0] // 4, mask.shape[1] // 2
    blocks = mask[: rows * 4, : cols * 2].reshape(rows, 4, cols, 2)
    return (blocks * _BRAILLE[None, :, None, :]).sum(axis=(1, 3)).astype(np.uint16)


def y_bounds(series: Sequence[PlotSeries], log_y: bool, x_range: tuple[float, float] | None) -> tuple[float, float] | None:
    low, high = math.inf, -math.inf
    for one in series:
        xs, ys, sm = _finite_xy(one, log_y)
        if x_range is not None and xs.size:
            keep = (xs >= x_range[0]) & (xs <= x_range[1])
            ys = ys[keep]
            sm = sm[keep] if sm is not None else None
        for arr in (ys, sm):
            if arr is not None and arr.size:
                finite = arr[np.isfinite(arr)]
                if finite.size:
                    low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    if low == math.inf:
        return None
    if high - low <= 1e-9 * max(abs(high), abs(low)):  # constant (up to the EMA's rounding)
        high = low = (high + low) / 2
        pad = abs(low) * 0.05 or 0.5
        return low - pad, high + pad
    pad = (high - low) * 0.04
    return low - pad, high + pad


def x_bounds(series: Sequence[PlotSeries]) -> tuple[float, float] | None:
    low, high = math.inf, -math.inf
    for one in series:
        if len(one.xs):
            low, high = min(low, float(one.xs[0])), max(high, float(one.xs[-1]))
    if low == math.inf:
        return None
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def legend_lines(series: Sequence[PlotSeries], layout: ChartLayout) -> list[Line]:
    """One line per series (the value at the cursor, then last, min, max; each raw value with its
    smoothed one beside it when smoothing is on), or one compact line of last values when there are
    more series than lines. With the cursor on a series' last point its `last` is not repeated."""
    lines: list[Line] = []
    shown = [(one, _stats(one.values)) for one in series]
    if len(shown) > layout.max_legend_lines:
        line: Line = []
        for one, st in shown:
            value = _cursor_value(one, layout.cursor_step)
            text = compact(value[1]) if value else (compact(st.last) if st else "–")
            line += [("■", f"bold {one.colour}"), (f"{text} ", "")]
        return [line]
    for one, st in shown:
        label = one.label if len(one.label) <= 24 else one.label[:23] + "…"
        line = [("● ", f"bold {one.colour}"), (label, "")] if label else [("●", f"bold {one.colour}")]
        value = _cursor_value(one, layout.cursor_step)
        at = _cursor_index(one, layout.cursor_step)
        if layout.cursor_step is not None:
            ended = value is not None and len(one.steps) and layout.cursor_step > float(one.steps[-1])
            line += [(" @", "dim"), (f"{compact(value[0], 6)} " if value else "– ", "dim"),
                     (compact(value[1], 4) if value else "–", f"bold {one.colour}")]
            if value is not None:
                line += _smoothed_run(_smoothed_at(one, at), 4, one.colour)
            if ended:
                line.append((" (its last step)", "dim"))
        if st is not None:
            line += _stat_runs(st, _smoothed_at(one, len(one.values) - 1), with_last=at != len(one.values) - 1)
        lines.append(line)
    return lines


def _smoothed_at(one: PlotSeries, index: int | None) -> float | None:
    """The smoothed value of point `index` (None without smoothing)."""
    if one.smoothed is None or index is None or not 0 <= index < len(one.smoothed):
        return None
    return float(one.smoothed[index])


def _smoothed_run(value: float | None, digits: int = 3, colour: str = "") -> Line:
    """` ~0.512`: the smoothed value beside the raw one, as many digits."""
    return [] if value is None else [(f" ~{compact(value, digits)}", colour)]


def _stats(values: Sequence[float] | np.ndarray) -> SeriesStats | None:
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return None
    return SeriesStats(float(finite[-1]), float(finite.min()), float(finite.max()))


def _stat_runs(st: SeriesStats, smoothed_last: float | None = None, with_last: bool = True) -> Line:
    last: Line = [(" last ", "dim"), (compact(st.last), "bold"), *_smoothed_run(smoothed_last)] if with_last else []
    return [*last, (" min ", "dim"), (compact(st.low), ""), (" max ", "dim"), (compact(st.high), "")]


def _cursor_index(one: PlotSeries, step: float | None) -> int | None:
    """The index of the series' latest point at or before `step`."""
    if step is None or not len(one.steps):
        return None
    index = int(np.searchsorted(np.asarray(one.steps), step, "right")) - 1
    return index if index >= 0 else None


def _cursor_value(one: PlotSeries, step: float | None) -> tuple[float, float] | None:
    if step is None or not len(one.steps):
        return None
    at = value_at(one.steps, one.values, step)
    return (float(at[0]), float(at[1])) if at else None


@dataclass
class Raster:
    """The expensive part of a chart (binned dots, bounds, ticks), kept while only the cursor moves."""

    bits: np.ndarray
    owner: np.ndarray
    styles: list[str]
    bounds: tuple[float, float, float, float]
    tick_rows: dict[int, str]
    gutter: int
    plot_w: int


def raster_key(series: Sequence[PlotSeries], layout: ChartLayout, plot_rows: int) -> tuple:
    data = tuple((id(one.xs), len(one.xs), id(one.values), id(one.smoothed), one.colour) for one in series)
    return (data, layout.width, plot_rows, layout.log_y, layout.x_range)


def rasterize(series: Sequence[PlotSeries], layout: ChartLayout, plot_rows: int) -> Raster | None:
    xb = layout.x_range or x_bounds(series)
    yb = y_bounds(series, layout.log_y, layout.x_range)
    if xb is None or yb is None:
        return None
    x0, x1 = xb
    y0, y1 = yb
    y_values = log_ticks(y0, y1, max(plot_rows // 3, 2)) if layout.log_y else ticks(y0, y1, max(plot_rows // 3, 2))
    y_values = [v for v in y_values if y0 <= v <= y1]
    y_texts = tick_labels([10**v for v in y_values] if layout.log_y else y_values)
    gutter = max((len(t) for t in y_texts), default=1) + 1
    plot_w = layout.width - gutter
    dot_w, dot_h = plot_w * 2, plot_rows * 4
    bits = np.zeros((plot_rows, plot_w), dtype=np.uint16)
    owner = np.full((plot_rows, plot_w), -1, dtype=np.int16)
    styles: list[str] = []
    # raw faint first, smoothed bold over it, so where both fall in a cell the smoothed colour wins
    layers = []
    for one in series:
        xs, ys, sm = _finite_xy(one, layout.log_y)
        if sm is not None:
            layers.append((xs, ys, f"{one.colour} dim"))
            layers.append((xs, sm, f"bold {one.colour}"))
        else:
            layers.append((xs, ys, f"bold {one.colour}"))
    for index, (xs, ys, style) in enumerate(layers):
        cells = _cells(_dots(xs, ys, x0, x1, y0, y1, dot_w, dot_h))
        bits |= cells
        owner[cells > 0] = index
        styles.append(style)
    tick_rows: dict[int, str] = {}
    for value, text in zip(y_values, y_texts):
        row = plot_rows - 1 - int(round((value - y0) / ((y1 - y0) or 1) * (plot_rows - 1)))
        tick_rows.setdefault(row, text)
    return Raster(bits, owner, styles, (x0, x1, y0, y1), tick_rows, gutter, plot_w)


def render_chart(series: Sequence[PlotSeries], layout: ChartLayout, cache: dict | None = None) -> list[Line]:
    """The chart as `layout.height` lines of styled runs, each `layout.width` cells wide. With a
    `cache` (a dict the caller keeps), a redraw that only moves the cursor reuses the raster."""
    width, height = layout.width, layout.height
    legend = legend_lines(series, layout)[: max(height - 3, 0)]
    plot_rows = height - len(legend) - 1  # one line of x ticks
    if plot_rows < 2 or width < 12:
        return [[(" " * width, "")] for _ in range(height)]
    key = raster_key(series, layout, plot_rows)
    if cache is not None and cache.get("key") == key:
        raster = cache["raster"]
    else:
        raster = rasterize(series, layout, plot_rows)
        if cache is not None:
            cache.update(key=key, raster=raster)
    if raster is None:
        return [[("no finite values" if i == 0 else "", "dim"), (" " * (width - (16 if i == 0 else 0)), "")] for i in range(height)]
    x0, x1, _, _ = raster.bounds
    dot_w = raster.plot_w * 2
    cursor_col = None
    if layout.cursor_step is not None and series:
        cx = _cursor_x(series, layout.cursor_step)
        if cx is not None and x0 <= cx <= x1:
            cursor_col = int(round((cx - x0) / ((x1 - x0) or 1) * (dot_w - 1))) // 2
    lines: list[Line] = []
    gutter = raster.gutter
    for row in range(plot_rows):
        label = raster.tick_rows.get(row, "")
        line: Line = [(label.rjust(gutter - 1), "dim"), ("┤" if label else "│", "dim")]
        line += _row_runs(raster.bits[row], raster.owner[row], raster.styles, cursor_col)
        lines.append(line)
    lines.append(_x_tick_line(x0, x1, gutter, raster.plot_w, layout))
    lines.extend(_pad(line, width) for line in legend)
    return [_pad(line, width) for line in lines]


def _cursor_x(series: Sequence[PlotSeries], step: float) -> float | None:
    for one in series:
        if len(one.steps):
            index = int(np.searchsorted(one.steps, step, "right")) - 1
            if index >= 0:
                if one.steps[index] == step:
                    return float(one.xs[index])
                # between points: place the cursor by step on this series' own x mapping
                if index + 1 < len(one.steps):
                    s0, s1 = one.steps[index], one.steps[index + 1]
                    t = (step - s0) / ((s1 - s0) or 1)
                    return float(one.xs[index]) + t * (float(one.xs[index + 1]) - float(one.xs[index]))
                return float(one.xs[index])
    return None


def _row_runs(bits: np.ndarray, owner: np.ndarray, styles: list[str], cursor_col: int | None) -> Line:
    runs: Line = []
    text: list[str] = []
    current = None
    for col in range(bits.size):
        b = int(bits[col])
        style = styles[owner[col]] if b else ""
        if col == cursor_col:
            style = (style + " on #3a3a5a") if style else "on #3a3a5a"
        char = chr(0x2800 + b) if b else " "
        if style != current and text:
            runs.append(("".join(text), current or ""))
            text = []
        current = style
        text.append(char)
    if text:
        runs.append(("".join(text), current or ""))
    return runs


def _x_tick_line(x0: float, x1: float, gutter: int, plot_w: int, layout: ChartLayout) -> Line:
    values = ticks(x0, x1, max(plot_w // 10, 2), integer=layout.x_integer)
    labels = tick_labels(values) if not layout.x_integer else [compact(v, 4) if abs(v) >= 10000 else str(int(v)) for v in values]
    cells = [" "] * plot_w
    for value, label in zip(values, labels):
        col = int(round((value - x0) / ((x1 - x0) or 1) * (plot_w - 1)))
        start = min(max(col - len(label) // 2, 0), plot_w - len(label))
        if start < 0 or any(c != " " for c in cells[max(start - 1, 0) : start + len(label) + 1]):
            continue
        cells[start : start + len(label)] = list(label)
    unit = layout.x_unit
    text = "".join(cells)
    if unit and text.endswith(" " * (len(unit) + 1)):
        text = text[: plot_w - len(unit)] + unit
    return [(" " * gutter, ""), (text, "dim")]


def _pad(line: Line, width: int) -> Line:
    used = sum(len(text) for text, _ in line)
    if used < width:
        return line + [(" " * (width - used), "")]
    out: Line = []
    left = width
    for text, style in line:
        if left <= 0:
            break
        if len(text) > left:
            text = text[: max(left - 1, 0)] + "…"
        out.append((text, style))
        left -= len(text)
    return out
