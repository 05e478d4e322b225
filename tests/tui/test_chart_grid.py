"""The chart grid, compare and the runs table driven with the pilot: filter, cursor, zoom, compare."""

from __future__ import annotations

import json
from pathlib import Path

from cookbook_tui.app.widgets.chart_grid import ChartGrid
from cookbook_tui.cli.tui import compare_problem
from cookbook_tui.screens.compare import CompareScreen
from cookbook_tui.screens.run import RunScreen

from .factory import charted_keys, make_app, make_compare_app
from .waiting import runs_read

SIZE = (120, 40)
SFT_RUN = "run_dirs/arithmetic-sft/20261128-101500"
SFT_LOW_LR = "run_dirs/arithmetic-sft/20261128-103000"
RL_RUN = "run_dirs/arithmetic-rl/20261128-110000"


async def test_every_metric_gets_a_chart_headline_first_and_the_filter_narrows_them(in_fixtures) -> None:
    app = make_app(open_run_dir=SFT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        grid = screen.query_one(ChartGrid)
        assert grid.shape == (2, 2)
        assert charted_keys(screen) == ["train_mean_nll", "test/nll", "learning_rate", "num_tokens"]
        assert grid.model.keys()[4:] == ["progress", "time/total"]  # on page 2
        await pilot.press("pagedown")
        assert charted_keys(screen) == ["progress", "time/total"]
        await pilot.press("slash", *"nll$")
        await pilot.pause()
        assert charted_keys(screen) == ["train_mean_nll", "test/nll"]
        await pilot.press("enter")
        assert grid.has_focus and grid.model.filter_text == "nll$"
        await pilot.press("escape")  # clears the filter, stays on the screen
        await pilot.pause()
        assert isinstance(app.screen, RunScreen) and len(charted_keys(screen)) == 4


async def test_the_cursor_reads_every_chart_at_one_step_and_zoom_narrows_the_range(in_fixtures) -> None:
    app = make_app(open_run_dir=SFT_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.screen.query_one(ChartGrid)
        assert grid.model.cursor == 59  # following the last step
        await pilot.press(*["left"] * 22)
        assert grid.model.cursor == 37
        await pilot.pause()
        readout = str(grid.query_one("#chart-readout").render())
        assert "step 37" in readout
        legends = {chart.key: chart.strips()[-1].text for chart in grid.query("MetricChart") if chart.key}
        expected = json.loads(Path(SFT_RUN, "metrics.jsonl").read_text().splitlines()[37])["train_mean_nll"]
        assert f"@37 {expected:.4g}" in legends["train_mean_nll"]
        assert "@30 " in legends["test/nll"]  # logged every 10 steps: its value at step 30
        await pilot.press("z", *["left"] * 10, "z")
        assert grid.model.zoom == (27, 37)
        await pilot.press("Z")
        assert grid.model.zoom is None


async def test_the_cursor_moves_the_rollouts_to_its_step(in_fixtures) -> None:
    app = make_app(open_run_dir=RL_RUN)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("left", *["left"] * 15)  # step 25
        pane = app.screen.query_one("#samples-pane")
        assert pane.steps[pane.step_index] == 20
        await pilot.press("end")
        assert pane.steps[pane.step_index] == 40


async def test_compare_labels_runs_by_what_differs_and_diffs_only_those_keys(in_fixtures) -> None:
    app = make_compare_app([SFT_RUN, SFT_LOW_LR])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert screen.labels == ["arithmetic-sft lr=0.003", "arithmetic-sft lr=0.001"]
        assert [row.key for row in screen.diff] == ["recipe:training.learning_rate", "config:learning_rate"]
        grid = screen.query_one(ChartGrid)
        series = grid.model.series_for("train_mean_nll")
        assert [s.label for s in series] == screen.labels and series[0].colour != series[1].colour
        await pilot.press("3")
        table = screen.query_one("#compare-summary-table")
        assert table.row_count == 2


def test_the_compare_command_names_the_bad_run_dir(tmp_path: Path, in_fixtures) -> None:
    assert compare_problem([SFT_RUN]) == "compare takes 2 to 8 run directories, got 1"
    assert compare_problem([SFT_RUN, str(tmp_path)]) == f"{tmp_path}: not a run directory (no status.json, metrics.jsonl, checkpoints.jsonl or config.json)"
    assert compare_problem([SFT_RUN, "nope"]) == "nope: no such run directory"
    assert compare_problem([SFT_RUN, SFT_LOW_LR]) is None


async def test_runs_table_sorts_and_filters(in_fixtures) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await runs_read(pilot)
        screen = app.screen
        rows = lambda: [f"{r.run_dir.parent.name}/{r.run_dir.name}" for r in screen.table.rows_shown]  # noqa: E731
        assert len(rows()) == 5
        await pilot.press("slash", *"sft")
        await pilot.pause()
        assert rows() == ["arithmetic-sft/20261128-103000", "arithmetic-sft/20261128-101500"]
        await pilot.press("escape")
        screen.sort_column, screen.sort_reverse = "duration", True
        screen.show_runs()
        assert rows()[0] == "arithmetic-rl/20261128-110000"  # 41 steps of 3 s
        rl = screen.table.rows_shown[0]
        assert rl.eta_s == 3.0 * (100 - 41)  # the recent pace, not elapsed-since-start


async def test_a_watched_run_that_ends_gets_a_toast_and_the_bell_and_home_counts_runs_going(tmp_path: Path) -> None:
    import shutil

    from .factory import FIXTURES

    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    status_file = runs / "arithmetic-rl" / "20261128-110000" / "status.json"
    app = make_app(runs_dir=runs)
    rings = []
    app.bell = lambda: rings.append(1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.sub_title == "1 run still going (ctrl+o)"
        status = json.loads(status_file.read_text())
        status_file.write_text(json.dumps(dict(status, state="finished", ended_at="2026-11-28T11:05:00Z")))
        app.check_runs()
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["Run arithmetic-rl/20261128-110000 finished."]
        assert rings == [1] and app.screen.sub_title == ""
        app.check_runs()  # told once
        assert len(app._notifications) == 1
