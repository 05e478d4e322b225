"""One metric's chart: draws what chart_canvas lays out; the grid tells it what to show.

Lines are handed to Textual as Strips (the Line API), built once per change or resize: a chart
redraw costs the binning in chart_canvas and nothing per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from cookbook_tui.monitor.chart_canvas import ChartLayout, PlotSeries, render_chart
from cookbook_tui.monitor.chart_model import run_colour
from cookbook_tui.monitor.heatmap_canvas import render_heatmap

MEDIAN_COLOUR = run_colour(1)  # apart from the run's own colour, which shades the density


@lru_cache(maxsize=256)
def parse_style(style: str) -> Style | None:
    return Style.parse(style) if style else None


class MetricChart(Widget):
    DEFAULT_CSS = """
    MetricChart {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        height: 1fr;
        width: 1fr;
    }
    MetricChart.-selected { border: round $accent; border-title-style: bold; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key: str | None = None
        self.series: Sequence[PlotSeries] = ()
        self.layout_options: dict = {}
        self._cache: tuple[tuple, list[Strip]] | None = None
        self._version = 0
        self._raster_cache: dict = {}  # chart_canvas keeps the binned dots here between cursor moves
        self.heatmap: tuple | None = None

    def show(self, key: str | None, series: Sequence[PlotSeries], *, selected: bool, pinned: bool,
             log_y: bool, marked: bool = False, heatmap: tuple | None = None, **layout_options) -> None:
        self.key = key
        self.series = series
        self.heatmap = heatmap  # (Distribution, xs, colour): drawn as a density over steps
        self.layout_options = dict(layout_options, log_y=log_y)
        self.border_title = key or ""
        flags = [flag for flag, on in (("per rollout", heatmap is not None), ("● marked", marked), ("★ pinned", pinned),
                                       ("log", log_y and heatmap is None)) if on]
        self.border_subtitle = " ".join(flags)
        self.set_class(selected, "-selected")
        self.display = key is not None
        self._version += 1
        self.refresh()

    def strips(self) -> list[Strip]:
        width, height = self.content_size.width, self.content_size.height
        cache_key = (self._version, width, height)
        if self._cache is not None and self._cache[0] == cache_key:
            return self._cache[1]
        strips: list[Strip] = []
        if self.key is not None and width > 0 and height > 0:
            base = self.rich_style
            layout = ChartLayout(width, height, **self.layout_options)
            if self.heatmap is not None:
                dist, xs, colour = self.heatmap
                lines = render_heatmap(dist, xs, layout, colour, MEDIAN_COLOUR)
            else:
                lines = render_chart(self.series, layout, self._raster_cache)
            for line in lines:
                segments = []
                for text, style in line:
                    parsed = parse_style(style)
                    segments.append(Segment(text, base + parsed if parsed else base))
                strips.append(Strip(segments, width))
        self._cache = (cache_key, strips)
        return strips

    def render_line(self, y: int) -> Strip:
        strips = self.strips()
        if y < len(strips):
            return strips[y]
        return Strip.blank(self.content_size.width, self.rich_style)
