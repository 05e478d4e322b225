"""A plotext line plot of a few metrics, with smoothing and log scale as reactives."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from cookbook_tui.app.metric_groups import smooth, thin

Series = dict[str, tuple[list[int], list[float]]]


class MetricPlot(PlotextPlot):
    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 8; }
    """

    smoothing: reactive[bool] = reactive(False)
    log_scale: reactive[bool] = reactive(False)

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.series: Series = {}

    def set_series(self, series: Series) -> None:
        self.series = series
        self.replot()

    def watch_smoothing(self) -> None:
        self.replot()

    def watch_log_scale(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        title = self.title + (" (smoothed)" if self.smoothing else "") + (" (log)" if self.log_scale else "")
        plt.title(title)
        plt.xlabel("step")
        for label, (steps, values) in self.series.items():
            if not steps:
                continue
            if self.smoothing:
                values = smooth(values)
            if self.log_scale:
                # log of a non-positive value is undefined: such points are left out
                pairs = [(s, v) for s, v in zip(steps, values) if v > 0 and math.isfinite(v)]
                steps, values = [s for s, _ in pairs], [v for _, v in pairs]
            # braille markers: two points a column is all the plot can show
            steps, values = thin(steps, values, limit=max(200, 2 * self.size.width))
            if steps:
                plt.plot(steps, values, label=label, marker="braille")
        if self.log_scale:
            plt.yscale("log")
        self.refresh()
