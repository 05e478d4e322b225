"""One metric's chart: draws what chart_canvas lays out; the grid tells it what to show."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widget import Widget

from cookbook_tui.app.chart_canvas import ChartLayout, PlotSeries, render_chart


class MetricChart(Widget):
    DEFAULT_CSS = """
    MetricChart {
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        height: 1fr;
        width: 1fr;
        padding: 0 0;
    }
    MetricChart.-selected { border: round $accent; border-title-style: bold; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key: str | None = None
        self.series: Sequence[PlotSeries] = ()
        self.layout_options: dict = {}
        self._cache: tuple[tuple, Text] | None = None
        self._version = 0

    def show(self, key: str | None, series: Sequence[PlotSeries], *, selected: bool, pinned: bool,
             log_y: bool, **layout_options) -> None:
        self.key = key
        self.series = series
        self.layout_options = dict(layout_options, log_y=log_y)
        self.border_title = key or ""
        flags = [flag for flag, on in (("★ pinned", pinned), ("log", log_y)) if on]
        self.border_subtitle = " ".join(flags)
        self.set_class(selected, "-selected")
        self.display = key is not None
        self._version += 1
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        cache_key = (self._version, width, height)
        if self._cache is not None and self._cache[0] == cache_key:
            return self._cache[1]
        text = Text(no_wrap=True, overflow="crop", end="")
        if self.key is not None and width > 0 and height > 0:
            lines = render_chart(self.series, ChartLayout(width, height, **self.layout_options))
            for number, line in enumerate(lines):
                if number:
                    text.append("\n")
                for run, style in line:
                    text.append(run, style or None)
        self._cache = (cache_key, text)
        return text
