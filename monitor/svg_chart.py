"""One chart as a self-contained SVG string, for the HTML report: every run's raw values faint and
smoothed bold, step axis and value ticks, a legend. No plotting library: the report must open
anywhere and be written without the optional `plots` extra."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from cookbook_tui.monitor.chart_model import tick_labels, ticks

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 44


@dataclass(frozen=True)
class SvgSeries:
    label: str
    colour: str
    steps: Sequence[float]
    values: Sequence[float]
    smoothed: Sequence[float] | None = None


def svg_chart(title: str, series: Sequence[SvgSeries], width: int = WIDTH, height: int = HEIGHT) -> str:
    points = [(s, v) for one in series for s, v in zip(one.steps, one.values) if math.isfinite(v)]
    head = (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title><rect width="100%" height="100%" fill="#ffffff"/>'
            f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>')
    if not points:
        return head + f'<text x="{LEFT}" y="{height // 2}" font-size="12" fill="#888">no finite values</text></svg>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        y0, y1 = y0 - abs(y0) * 0.05 - 0.5, y1 + abs(y1) * 0.05 + 0.5
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x_of(step: float) -> float:
        return LEFT + (step - x0) / (x1 - x0) * plot_w

    def y_of(value: float) -> float:
        return TOP + (1 - (value - y0) / (y1 - y0)) * plot_h

    parts = [head, f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>']
    y_ticks = ticks(y0, y1, 5)
    for value, label in zip(y_ticks, tick_labels(y_ticks)):
        y = y_of(value)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    for value in ticks(x0, x1, 8, integer=True):
        parts.append(f'<text x="{x_of(value):.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="middle">{int(value)}</text>')
    parts.append(f'<text x="{LEFT + plot_w}" y="{TOP + plot_h + 28}" font-size="10" text-anchor="end">step</text>')
    for one in series:
        raw = _polyline(one.steps, one.values, x_of, y_of)
        if one.smoothed is not None:
            parts.append(f'<polyline points="{raw}" fill="none" stroke="{one.colour}" stroke-opacity="0.3" stroke-width="1"/>')
            parts.append(f'<polyline points="{_polyline(one.steps, one.smoothed, x_of, y_of)}" fill="none" '
                         f'stroke="{one.colour}" stroke-width="2"/>')
        else:
            parts.append(f'<polyline points="{raw}" fill="none" stroke="{one.colour}" stroke-width="2"/>')
    x = LEFT
    for one in series:
        if one.label:
            parts.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{one.colour}"/>'
                         f'<text x="{x + 14}" y="{height - 3}" font-size="11">{escape(one.label)}</text>')
            x += 24 + 7 * len(one.label)
    parts.append("</svg>")
    return "".join(parts)


def _polyline(steps: Sequence[float], values: Sequence[float], x_of, y_of) -> str:  # noqa: ANN001 - two mappings
    return " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in zip(steps, values) if math.isfinite(v))
