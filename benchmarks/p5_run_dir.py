"""P5: the run screen's chart grid on a big run: 100k rows x 50 metrics.

(a) opening the run dir until the grid's visible charts are drawn with the last step (goal <= 1 s);
(b) one appended row until the visible charts show it (goal <= 250 ms median);
(c) a key press (the inspect cursor) answered while the run streams 20 rows/s (goal <= 50 ms p95):
    from the key event to every visible chart having drawn the moved cursor.
Measured in the real app, headless, with the default poll interval; the reference column is the
goal. `--quick` uses fewer appends and key presses, never fewer rows.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

from .common import Comparison, Result

ROWS = 100_000
METRICS = 50
STREAM_ROWS_PER_S = 20


def metric_names() -> list[str]:
    headline = ["train_mean_nll", "test/nll", "learning_rate", "num_tokens", "time/total"]
    prefixes = ["optim", "engine", "env/all", "time", "samples"]
    extra = [f"{prefixes[i % len(prefixes)]}/m{i:02d}" for i in range(METRICS - len(headline))]
    return headline + extra


def row_text(step: int, names: list[str]) -> str:
    import orjson

    row = {"step": step}
    for index, name in enumerate(names):
        row[name] = 4.0 * math.exp(-step / (20000 + index * 500)) + 0.1 + 0.01 * math.sin(step * 0.1 + index)
    return orjson.dumps(row).decode() + "\n"


def write_run_dir(root: Path, rows: int) -> Path:
    import orjson

    run_dir = root / "big-run"
    run_dir.mkdir(parents=True)
    names = metric_names()
    with (run_dir / "metrics.jsonl").open("w") as f:
        for step in range(rows):
            f.write(row_text(step, names))
    (run_dir / "status.json").write_text(
        orjson.dumps({"state": "running", "pid": None, "recipe": "big", "workflow": "sl", "backend": "local",
                      "step": rows, "total_steps": rows * 2}).decode()
    )
    return run_dir


def drawn_last_step(app) -> int | None:
    """The last step the visible charts were drawn with (None before the grid has drawn)."""
    from cookbook_tui.app.widgets.metric_chart import MetricChart
    from cookbook_tui.screens.run import RunScreen

    screen = app.screen
    if not isinstance(screen, RunScreen):
        return None
    lasts = [chart.series[0].steps[-1] for chart in screen.query(MetricChart) if chart.key and chart.series
             and chart._cache is not None]  # noqa: SLF001 - drawn at least once
    return min(lasts) if lasts else None


def history_drawn(app) -> bool:
    """Every visible chart drawn with the whole history (its first point is step 0)."""
    from cookbook_tui.app.widgets.metric_chart import MetricChart

    charts = [chart for chart in app.screen.query(MetricChart) if chart.key and chart.series]
    return bool(charts) and all(
        chart.series[0].steps[0] == 0 and chart.series[0].steps[-1] == ROWS - 1 and chart._cache is not None
        and chart._cache[0][0] == chart._version for chart in charts)  # noqa: SLF001


async def measure(run_dir: Path, appends: int, presses: int) -> tuple[float, float, list[float], list[float]]:
    from cookbook_tui.app.config import AppConfig
    from cookbook_tui.app.cookbook_app import CookbookApp

    names = metric_names()
    start = time.perf_counter()
    app = CookbookApp(config=AppConfig(runs_dir=run_dir.parent / "none"), open_run_dir=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        while drawn_last_step(app) is None:
            await asyncio.sleep(0.005)
        first_s = time.perf_counter() - start  # the latest rows, drawn while the history is read
        while not history_drawn(app):
            await asyncio.sleep(0.005)
        await pilot.pause()
        open_s = time.perf_counter() - start

        delays = []
        step = ROWS
        with (run_dir / "metrics.jsonl").open("a") as f:
            for _ in range(appends):
                await asyncio.sleep(0.137)  # land at varied points of the poll cycle
                f.write(row_text(step, names))
                f.flush()
                appended = time.perf_counter()
                while drawn_last_step(app) != step:
                    await asyncio.sleep(0.002)
                delays.append(time.perf_counter() - appended)
                step += 1

            # key presses while a writer appends 20 rows a second
            async def stream(stop: asyncio.Event) -> None:
                nonlocal step
                while not stop.is_set():
                    f.write(row_text(step, names))
                    f.flush()
                    step += 1
                    await asyncio.sleep(1 / STREAM_ROWS_PER_S)

            stop = asyncio.Event()
            writer = asyncio.create_task(stream(stop))
            grid = app.screen.query_one("#chart-grid")
            answers = []
            charts = [chart for chart in app.screen.query("MetricChart") if chart.key]

            def drawn(cursor) -> bool:
                # every visible chart has drawn the frame that shows the new cursor
                return grid.model.cursor == cursor and all(
                    chart._cache is not None and chart._cache[0][0] == chart._version for chart in charts)  # noqa: SLF001

            for index in range(presses):
                before = grid.model.cursor
                pressed = time.perf_counter()
                app.simulate_key("left" if index % 2 else "right")
                while grid.model.cursor == before and index:
                    await asyncio.sleep(0.0005)
                after = grid.model.cursor
                while not drawn(after):
                    await asyncio.sleep(0.0005)
                answers.append(time.perf_counter() - pressed)
                await asyncio.sleep(0.05 + 0.013 * (index % 7))  # presses at varied points of the stream
            stop.set()
            await writer
    return first_s, open_s, delays, answers[1:]


def run(quick: bool = False) -> Result:
    root = Path(tempfile.mkdtemp(prefix="bench-p5-"))
    run_dir = write_run_dir(root, ROWS)
    first_s, open_s, delays, answers = asyncio.run(measure(run_dir, appends=5 if quick else 20, presses=21 if quick else 101))
    result = Result(
        benchmark="p5_run_dir",
        title=f"run screen chart grid on a run with {ROWS:,} rows x {METRICS} metrics (120x40)",
        ours_label="cookbook-tui",
        reference_label="goal",
    )
    result.rows.append(Comparison(
        "open to a drawn grid (latest rows)", "s", first_s, 1.0, higher_is_better=False, goal="<= 1 s (ratio >= 1)",
        notes="the last 1 MiB of rows, drawn while a worker reads the rest"))
    result.rows.append(Comparison(
        "open to the whole history drawn", "s", open_s, 1.0, higher_is_better=False, goal="<= 1 s (ratio >= 1)",
        notes="160 MB of JSONL: orjson parse ~1.2 s + columns ~0.8 s on this machine"))
    result.rows.append(Comparison(
        "append to redrawn charts", "s", statistics.median(delays), 0.25, higher_is_better=False,
        goal="<= 250 ms median (ratio >= 1)", notes=f"median of {len(delays)}; max {max(delays) * 1000:.0f} ms",
    ))
    p95 = sorted(answers)[max(0, math.ceil(0.95 * len(answers)) - 1)]
    result.rows.append(Comparison(
        "cursor key while streaming 20 rows/s", "s", p95, 0.05, higher_is_better=False,
        goal="<= 50 ms p95 (ratio >= 1)", notes=f"p95 of {len(answers)}; median {statistics.median(answers) * 1000:.0f} ms",
    ))
    load = os.getloadavg()[0]
    result.details["analysis"] = (
        f"Load average {load:.1f} on this 2-core machine while measuring (other work shares it). "
        "The grid draws only the charts on its page: a chart bins its 100k points into its dot columns "
        "with numpy (~5 ms), keeps that raster while only the cursor moves, and grows its numpy copy "
        "of a column by the new rows only, so an append or a key press costs the visible charts, not "
        "the history. A run this long opens on the last 1 MiB of rows, drawn at once, while a worker "
        "reads the whole file; that full read (160 MB of JSONL: ~1.2 s of orjson parsing and ~0.8 s "
        "building columns, unloaded) is what misses 1 s. Parsing only the columns on the page, or a "
        "columnar cache next to metrics.jsonl, would be the next step."
    )
    return result
