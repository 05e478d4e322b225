"""P5: the run screen on a big run. (a) Opening a run dir with 100k metric rows until its curves
are plotted (goal <= 1 s); (b) the delay from a metrics.jsonl append to the plot showing that
step (goal <= 250 ms). Measured in the real app, headless, with the default poll interval; the
reference column is the goal."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from .common import Comparison, Result

ROWS = 100_000


def write_run_dir(root: Path, rows: int) -> Path:
    run_dir = root / "big-run"
    run_dir.mkdir(parents=True)
    with (run_dir / "metrics.jsonl").open("w") as f:
        for step in range(rows):
            f.write(json.dumps({"step": step, "train_mean_nll": 4.0 * math.exp(-step / 20000) + 0.1, "learning_rate": 1e-4, "num_tokens": 2048}) + "\n")
    (run_dir / "status.json").write_text(
        json.dumps({"state": "running", "pid": None, "recipe": "big", "workflow": "sl", "backend": "local", "step": rows, "total_steps": rows * 2})
    )
    return run_dir


async def measure(run_dir: Path, appends: int) -> tuple[float, list[float]]:
    from cookbook_tui.app.config import AppConfig
    from cookbook_tui.app.cookbook_app import CookbookApp
    from cookbook_tui.app.widgets.metric_plot import MetricPlot
    from cookbook_tui.screens.run import RunScreen

    def plotted_last_step(app: CookbookApp) -> int | None:
        screen = app.screen
        if not isinstance(screen, RunScreen):
            return None
        for plot in screen.query(MetricPlot):
            for steps, _ in plot.series.values():
                if steps:
                    return steps[-1]
        return None

    start = time.perf_counter()
    app = CookbookApp(config=AppConfig(), open_run_dir=run_dir)
    async with app.run_test(size=(160, 50)) as pilot:
        while plotted_last_step(app) != ROWS - 1:
            await asyncio.sleep(0.005)
        await pilot.pause()  # the frame with the curves
        open_s = time.perf_counter() - start
        delays = []
        with (run_dir / "metrics.jsonl").open("a") as f:
            for i in range(appends):
                step = ROWS + i
                await asyncio.sleep(0.137)  # land at varied points of the poll cycle
                f.write(json.dumps({"step": step, "train_mean_nll": 0.1, "learning_rate": 1e-4, "num_tokens": 2048}) + "\n")
                f.flush()
                appended = time.perf_counter()
                while plotted_last_step(app) != step:
                    await asyncio.sleep(0.005)
                await pilot.pause()
                delays.append(time.perf_counter() - appended)
    return open_s, delays


def run(quick: bool = False) -> Result:
    root = Path(tempfile.mkdtemp(prefix="bench-p5-"))
    run_dir = write_run_dir(root, ROWS)
    open_s, delays = asyncio.run(measure(run_dir, appends=5 if quick else 20))
    result = Result(
        benchmark="p5_run_dir",
        title=f"run screen on a run with {ROWS:,} metric rows",
        ours_label="cookbook-tui",
        reference_label="goal",
    )
    result.rows.append(Comparison("open to plotted curves", "s", open_s, 1.0, higher_is_better=False, goal="<= 1 s (ratio >= 1)"))
    result.rows.append(
        Comparison(
            "append to plotted",
            "s",
            statistics.median(delays),
            0.25,
            higher_is_better=False,
            goal="<= 250 ms (ratio >= 1)",
            notes=f"median of {len(delays)}; max {max(delays) * 1000:.0f} ms",
        )
    )
    return result
