"""Each chart as an image file (PNG or SVG), drawn with matplotlib: the optional `plots` extra
(`pip install 'cookbook-tui[plots]'`), never a core dependency. One file a metric, named after it
(`env/all/reward/total` -> `env_all_reward_total.png`), every run in its colour, raw values faint
and the smoothed line bold, as the chart grid draws them."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

from cookbook_tui.monitor.chart_model import run_colour
from cookbook_tui.monitor.export_runs import ExportRun, chart_keys, smoothed

EXTRA = "plots"
INSTALL = f"pip install 'cookbook-tui[{EXTRA}]'"
FORMATS = ("png", "svg")


class MissingExtra(RuntimeError):
    """The plotting library is not installed; str() says what to install."""


def require_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise MissingExtra(f"chart images need matplotlib, the optional '{EXTRA}' extra: {INSTALL}")


def image_name(key: str, fmt: str) -> str:
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "chart") + f".{fmt}"


def write_images(folder: Path, runs: Sequence[ExportRun], fmt: str) -> list[Path]:
    """One image per chart in `folder` (made if missing); returns the files written."""
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, whatever the environment says
    from matplotlib import pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key in chart_keys(runs):
        figure, axes = plt.subplots(figsize=(6.4, 3.2), dpi=100)
        for index, run in enumerate(runs):
            if key not in run.columns:
                continue
            steps, values = run.columns[key]
            colour = run_colour(index)
            label = run.label if len(runs) > 1 else None
            if len(values) > 1:
                axes.plot(steps, values, color=colour, alpha=0.3, linewidth=1)
                axes.plot(steps, smoothed(steps, values), color=colour, linewidth=2, label=label)
            else:
                axes.plot(steps, values, "o", color=colour, label=label)
        axes.set_title(key)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if len(runs) > 1:
            axes.legend(fontsize="small")
        figure.tight_layout()
        path = folder / image_name(key, fmt)
        while path in written:  # `a/b` and `a_b` make one name: keep both
            path = path.with_name(f"{path.stem}-2{path.suffix}")
        figure.savefig(path, format=fmt)
        plt.close(figure)
        written.append(path)
    return written
