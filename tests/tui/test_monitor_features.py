"""The monitor, round two, driven with the pilot: follow mode, smoothed legends, merged charts, layouts
that last, distribution heatmaps and export from the app."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cookbook_tui.app.widgets.chart_grid import ChartGrid
from cookbook_tui.monitor.chart_model import compact
from cookbook_tui.screens.run import RunScreen

from .factory import FIXTURES, make_app

SIZE = (120, 40)
SFT_RUN = "run_dirs/arithmetic-sft/20261128-101500"
RL_RUN = FIXTURES / "run_dirs/arithmetic-rl/20261128-110000"


def append_step(run_dir: Path, step: int) -> None:
    """One more RL step: its metrics row and a group of rollouts, as the runner appends them."""
    with (run_dir / "metrics.jsonl").open("a") as handle:
        handle.write(json.dumps({"step": step, "env/all/reward/total": 0.5, "optim/entropy": 1.0, "time/total": 3.0}) + "\n")
    with (run_dir / "samples.jsonl").open("a") as handle:
        for rollout in range(2):
            handle.write(json.dumps({"step": step, "kind": "rollout", "prompt": "What is 1 + 1?", "completion": "2",
                                     "reward": 1.0, "segments": None, "group": 0, "rollout": rollout}) + "\n")


def readout(grid: ChartGrid) -> str:
    return str(grid.query_one("#chart-readout").render())


async def test_a_new_run_screen_follows_the_newest_step_until_a_cursor_key_and_end_follows_again(tmp_path: Path) -> None:
    run_dir = tmp_path / "rl"
    shutil.copytree(RL_RUN, run_dir)
    app = make_app(open_run_dir=str(run_dir))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        grid = screen.query_one(ChartGrid)
        pane = screen.query_one("#samples-pane")
        assert grid.model.follow and grid.model.cursor == 40
        append_step(run_dir, 41)
        screen.poll_run_dir()
        await pilot.pause()
        assert grid.model.cursor == 41, "the cursor reaches the new last step"
        assert pane.steps[pane.step_index] == 41, "the rollouts pane moves with it"
        assert "following" in readout(grid) and "step 41" in readout(grid)
        legend = next(chart.strips()[-1].text for chart in grid.query("MetricChart") if chart.key == "env/all/reward/total")
        assert "@41 0.5" in legend

        await pilot.press("left")  # any cursor key leaves follow mode
        assert not grid.model.follow and grid.model.cursor == 40
        append_step(run_dir, 42)
        screen.poll_run_dir()
        await pilot.pause()
        assert grid.model.cursor == 40 and pane.steps[pane.step_index] == 40
        assert "following" not in readout(grid) and "End follows" in readout(grid)

        await pilot.press("end")
        assert grid.model.follow and grid.model.cursor == 42
        assert pane.steps[pane.step_index] == 42
        with (run_dir / "samples.jsonl").open("a") as handle:  # step 43's rollouts come before its metrics row
            handle.write(json.dumps({"step": 43, "kind": "rollout", "prompt": "1 + 2?", "completion": "3", "reward": 1.0,
                                     "segments": None, "group": 0, "rollout": 0}) + "\n")
        screen.poll_run_dir()
        await pilot.pause()
        assert pane.steps[pane.step_index] == 42, "the pane stays on the cursor's step"
        await pilot.press("left", "escape")  # Esc drops a placed cursor: back to following
        assert grid.model.follow and grid.model.cursor == 42


def debiased_ema(steps: list[int], values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing, written out here: decay once per step of distance, debiased."""
    average = norm = 0.0
    out, last = [], None
    for step, value in zip(steps, values):
        decay = weight if last is None else weight ** (step - last)
        average = decay * average + (1 - decay) * value
        norm = decay * norm + (1 - decay)
        out.append(average / norm)
        last = step
    return out


async def test_the_legend_shows_the_smoothed_value_beside_the_raw_one_at_the_cursor_and_last(in_fixtures) -> None:
    rows = [json.loads(line) for line in Path(SFT_RUN, "metrics.jsonl").read_text().splitlines()]
    app = make_app(open_run_dir=SFT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.screen.query_one(ChartGrid)
        await pilot.press(*["left"] * 22)
        assert grid.model.cursor == 37
        await pilot.pause()
        legends = {chart.key: chart.strips()[-1].text for chart in grid.query("MetricChart") if chart.key}
        weight = grid.model.smoothing
        for key in ("train_mean_nll", "test/nll"):
            kept = [row for row in rows if key in row]
            steps, values = [row["step"] for row in kept], [row[key] for row in kept]
            smoothed = debiased_ema(steps, values, weight)
            at = max(i for i, step in enumerate(steps) if step <= 37)
            assert f"@{steps[at]} {compact(values[at], 4)} ~{compact(smoothed[at], 4)}" in legends[key]
            assert f"last {compact(values[-1])} ~{compact(smoothed[-1])}" in legends[key]
        await pilot.press("m")  # smoothing off: raw values only
        await pilot.pause()
        assert "~" not in next(chart.strips()[-1].text for chart in grid.query("MetricChart") if chart.key)


async def test_marked_charts_merge_into_one_with_a_colour_and_legend_entry_each_and_split_back(in_fixtures) -> None:
    app = make_app(open_run_dir=SFT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.screen.query_one(ChartGrid)
        assert grid.model.page() == ["train_mean_nll", "test/nll", "learning_rate", "num_tokens"]
        await pilot.press("space", "down", "space", "g")
        merged = "train_mean_nll + test/nll"
        assert grid.model.page()[0] == merged and "test/nll" not in grid.model.keys()
        series = grid.model.series_for(merged)
        assert [s.label for s in series] == ["train_mean_nll", "test/nll"]
        assert len({s.colour for s in series}) == 2
        await pilot.pause()
        chart = next(c for c in grid.query("MetricChart") if c.key == merged)
        legend = [strip.text for strip in chart.strips()[-2:]]
        assert legend[0].startswith("● train_mean_nll") and legend[1].startswith("● test/nll")
        assert grid.model.selected_key() == merged
        await pilot.press("g")  # split back
        assert grid.model.page() == ["train_mean_nll", "test/nll", "learning_rate", "num_tokens"]


async def test_a_layout_saved_in_one_app_is_restored_in_the_next_for_a_run_of_the_same_kind(in_fixtures, tmp_path: Path) -> None:
    layouts = tmp_path / "config" / "layouts.toml"
    first = make_app(open_run_dir=SFT_RUN, layouts_file=layouts)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = first.screen.query_one(ChartGrid)
        await pilot.press("space", "down", "space", "g")  # merge train_mean_nll and test/nll
        await pilot.press("plus", "t")  # smoother, x axis: time
        await pilot.press("slash", *"nll|token", "enter")
        await first.workers.wait_for_complete()
        saved = (grid.model.smoothing, grid.model.x_axis, grid.model.page())
    assert saved == (0.7, "time", ["train_mean_nll + test/nll", "num_tokens"])
    assert "[sl]" in layouts.read_text()

    second = make_app(open_run_dir="run_dirs/arithmetic-sft/20261128-103000", layouts_file=layouts)  # another sl run
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = second.screen.query_one(ChartGrid)
        assert (grid.model.smoothing, grid.model.x_axis, grid.model.page()) == saved
        assert "layout for sl restored" in readout(grid)
        await pilot.press("R")  # back to the default, and the saved one goes
        await second.workers.wait_for_complete()
        assert grid.model.page() == ["train_mean_nll", "test/nll", "learning_rate", "num_tokens"]
        assert (grid.model.smoothing, grid.model.x_axis) == (0.6, "step")
    assert "[sl]" not in layouts.read_text()

    rl = make_app(open_run_dir=str(RL_RUN), layouts_file=layouts)  # another kind: its own default
    async with rl.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert rl.screen.query_one(ChartGrid).model.smoothing == 0.6


async def test_a_broken_layouts_file_is_an_error_naming_its_line_and_is_not_saved_over(in_fixtures, tmp_path: Path) -> None:
    layouts = tmp_path / "layouts.toml"
    layouts.write_text("[sl]\nsmoothing = 3\n")
    app = make_app(open_run_dir=SFT_RUN, layouts_file=layouts)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(f"{layouts}:2: sl.smoothing: must be a number from 0 to 0.99, got 3" in m for m in messages)
        await pilot.press("p", "m")
        await app.workers.wait_for_complete()
    assert layouts.read_text() == "[sl]\nsmoothing = 3\n"


async def test_rl_reward_and_advantage_per_rollout_chart_as_heatmaps_with_the_cursor_steps_quantiles(in_fixtures) -> None:
    import numpy as np

    app = make_app(open_run_dir=str(RL_RUN))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.screen.query_one(ChartGrid)
        assert [k for k in grid.model.keys() if k.startswith("rollouts/")] == [
            "rollouts/advantage", "rollouts/correct", "rollouts/reward"]
        await pilot.press("slash", *"^rollouts/reward", "enter", *["left"] * 15)
        await pilot.pause()
        assert grid.model.cursor == 25
        chart = next(c for c in grid.query("MetricChart") if c.key == "rollouts/reward")
        assert chart.heatmap is not None and "per rollout" in chart.border_subtitle
        rows = [json.loads(line) for line in (RL_RUN / "iteration_000025/train_rollout_summaries.jsonl").read_text().splitlines()]
        median = float(np.median([row["total_reward"] for row in rows]))
        legend = chart.strips()[-2].text
        assert legend.startswith(f"@25 n={len(rows)} ") and f"p50 {compact(median, 3)}" in legend
        await pilot.press("space")  # a heatmap has no line to merge
        assert grid.model.marked == [] and "cannot be merged" in readout(grid)


async def test_e_exports_the_runs_report_and_metrics_from_the_run_screen(in_fixtures, tmp_path: Path) -> None:
    from .waiting import wait_until

    app = make_app(open_run_dir=SFT_RUN, runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        exports = tmp_path / "runs" / "exports"
        await wait_until(pilot, lambda: len(list(exports.glob("*"))) == 2, "the report and the CSV")
        assert sorted(p.name for p in exports.iterdir()) == [
            "arithmetic-sft-20261128-101500-20261128-113000.csv", "arithmetic-sft-20261128-101500-20261128-113000.html"]
        assert (exports / "arithmetic-sft-20261128-101500-20261128-113000.html").read_text().count('<svg class="chart"') == 2
        assert any("Exported" in (n.title or "") for n in app._notifications)
