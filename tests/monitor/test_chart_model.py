"""The chart model as plain Python: ordering, filter, smoothing, ticks, labels, the cursor, drawing."""

from __future__ import annotations

import math

import pytest

from cookbook_tui.monitor.chart_canvas import ChartLayout, PlotSeries, render_chart
from cookbook_tui.monitor.chart_grid_model import ChartRun, GridModel
from cookbook_tui.monitor.chart_model import (
    ChartOrder,
    compact,
    compile_filter,
    ema,
    grid_shape,
    tick_labels,
    ticks,
    value_at,
)
from cookbook_tui.runners.headlines import headline_keys, infer_workflow


def test_headline_charts_come_first_then_groups_by_prefix() -> None:
    keys = ["time/total", "optim/entropy", "env/all/reward/total", "progress/done_frac", "zeta", "engine/grad_norm",
            "optim/kl_sample_train_v1", "alpha/x", "env/all/ac_tokens_per_turn"]
    order = ChartOrder()
    order.update("rl", keys)
    assert order.ordered(keys) == [
        "env/all/reward/total", "optim/kl_sample_train_v1", "optim/entropy",  # headline, pinned
        "zeta",  # top level
        "env/all/ac_tokens_per_turn", "engine/grad_norm", "progress/done_frac", "time/total", "alpha/x",
    ]


def test_unpinning_a_headline_chart_moves_it_into_its_group_and_it_stays_unpinned() -> None:
    keys = ["dpo_loss", "accuracy", "margin", "chosen_reward"]
    order = ChartOrder()
    order.update("dpo", keys)
    assert order.toggle_pin("dpo_loss") is False
    order.update("dpo", keys)  # a later poll does not pin it again
    assert order.ordered(keys) == ["accuracy", "margin", "chosen_reward", "dpo_loss"]
    assert order.toggle_pin("chosen_reward") is True
    assert order.ordered(keys)[:3] == ["accuracy", "margin", "chosen_reward"]


def test_a_run_without_a_known_workflow_gets_headlines_from_its_keys() -> None:
    assert infer_workflow(["train_mean_nll", "learning_rate"]) == "sl"
    assert infer_workflow(["dpo_loss", "accuracy"]) == "dpo"
    assert headline_keys("cookbook", ["teacher_kl", "x"]) == ["teacher_kl"]
    assert headline_keys(None, ["x", "y"]) == []


def test_filter_is_a_case_insensitive_regex_and_a_bad_one_matches_literally() -> None:
    pattern, error = compile_filter("NLL$|^optim/")
    assert error is None
    keys = ["train_mean_nll", "test/nll", "optim/entropy", "nll_extra"]
    assert [k for k in keys if pattern.search(k)] == ["train_mean_nll", "test/nll", "optim/entropy"]
    pattern, error = compile_filter("env/[")
    assert "literally" in error and pattern.search("env/[x") and not pattern.search("env/x")


def test_ema_is_debiased_and_weighted_by_step_distance() -> None:
    assert ema([0, 1, 2], [5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])  # no pull toward 0
    assert ema([0, 1], [0.0, 1.0], 0.0) == [0.0, 1.0]
    # dense: after one step the old value keeps weight 0.6 (normalised)
    assert ema([0, 1], [0.0, 1.0], 0.6)[1] == pytest.approx(0.4 / (1 - 0.6**2))
    # a metric logged every 25 steps barely lags: 0.6**25 is ~3e-6 of the old value
    sparse = ema([0, 25], [6.9, 1.39], 0.6)
    assert sparse[1] == pytest.approx(1.39, abs=1e-3)
    # the same two points a step apart are pulled well toward the first
    assert ema([0, 1], [6.9, 1.39], 0.6)[1] > 3.0


def test_step_ticks_are_integers_and_labels_are_compact() -> None:
    assert ticks(0, 149.5, 3, integer=True) == [0, 50, 100]
    assert all(float(t).is_integer() for t in ticks(0, 7, 10, integer=True))
    assert ticks(0, 7, 10, integer=True) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [compact(v) for v in (3400, 0.000000283, 1.2e-7, 0.693, 1_234_567, 0)] == [
        "3.4k", "2.83e-7", "1.2e-7", "0.693", "1.23M", "0"]
    assert tick_labels([0.69, 0.695, 0.7]) == ["0.69", "0.695", "0.7"]


def test_value_at_is_the_latest_point_at_or_before_the_step() -> None:
    steps, values = [0, 25, 50], [6.9, 1.39, 1.2]
    assert value_at(steps, values, 37) == (25, 1.39)
    assert value_at(steps, values, 50) == (50, 1.2)
    assert value_at(steps, values, -1) is None


def test_grid_shape_is_2x2_at_120x40_and_3x3_at_200x60() -> None:
    assert grid_shape(120, 33) == (2, 2)
    assert grid_shape(200, 53) == (3, 3)


def grid(columns: dict, workflow: str = "sl") -> GridModel:
    run = ChartRun("", "#fff", columns={k: (list(range(len(v))), v) for k, v in columns.items()}, workflow=workflow)
    return GridModel(runs=[run])


def test_cursor_moves_over_the_selected_charts_steps_and_clamps_to_the_zoom() -> None:
    model = grid({"train_mean_nll": [float(i) for i in range(100)]})
    model.move_cursor(-1)  # the first press puts it on the last step
    assert model.cursor == 99
    model.move_cursor(-1)
    model.move_cursor(-1)
    assert model.cursor == 97
    model.cursor = 10
    assert model.zoom_key() == "marked"
    model.cursor = 30
    assert model.zoom_key() == "zoomed" and model.zoom == (10, 30)
    model.move_cursor(5)
    assert model.cursor == 30  # stays inside the zoom
    assert model.x_range() == (10, 30)
    model.reset_zoom()
    assert model.x_range() == (0, 99)


def test_pages_filter_and_selection() -> None:
    model = grid({f"m{i}": [1.0, 2.0] for i in range(10)})
    model.per_page = 4
    assert model.page_count() == 3 and model.page() == ["m0", "m1", "m2", "m3"]
    model.move_selection(4)  # past the page's end: the next page
    assert model.page_index == 1
    model.set_filter("m[57]")
    assert model.page() == ["m5", "m7"] and model.page_index == 0


def test_series_are_smoothed_incrementally_as_rows_arrive() -> None:
    model = grid({"loss": [4.0, 3.0, 2.0]})
    model.smoothing = 0.6
    first = list(model.series_for("loss")[0].smoothed)
    assert first == pytest.approx(ema([0, 1, 2], [4.0, 3.0, 2.0], 0.6))
    run = model.runs[0]
    run.columns["loss"][0].append(3)
    run.columns["loss"][1].append(1.0)
    again = list(model.series_for("loss")[0].smoothed)
    assert again[:3] == first and again[3] == pytest.approx(ema([0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0], 0.6)[3])


def test_time_axis_from_the_runs_step_times() -> None:
    model = grid({"loss": [3.0, 2.0, 1.0], "time/total": [2.0, 2.0, 4.0]})
    assert model.cycle_x_axis() == "time"
    assert list(model.series_for("loss")[0].xs) == [2.0, 4.0, 8.0]
    assert grid({"loss": [1.0]}).cycle_x_axis() == "step"  # nothing to derive time from


def plain(lines) -> list[str]:
    return ["".join(text for text, _ in line) for line in lines]


def test_a_drawn_chart_has_integer_ticks_a_legend_outside_the_data_and_a_cursor_readout() -> None:
    steps = list(range(150))
    values = [4 * math.exp(-s / 30) for s in steps]
    lines = render_chart([PlotSeries("", steps, steps, values, None, "#fff")], ChartLayout(60, 12, cursor_step=37))
    text = plain(lines)
    assert len(text) == 12 and all(len(line) == 60 for line in text)
    x_ticks = text[-2].split()
    assert x_ticks[:3] == ["0", "50", "100"]
    assert text[-1].startswith("● ") and "last 0.0279" in text[-1] and "@37 " in text[-1]
    assert all(not any(0x2800 <= ord(c) <= 0x28FF for c in line) for line in text[-2:])  # no dots under the legend
    # the cursor column is highlighted on every plot row
    plot_rows = lines[:-2]
    assert all(any("on #" in style for _, style in row) for row in plot_rows)


def test_log_y_draws_tiny_values_on_decades_and_skips_non_positive_ones() -> None:
    steps = list(range(50))
    values = [10 ** (-s / 10) for s in steps] + [0.0]
    lines = render_chart([PlotSeries("", steps + [50], steps + [50], values, None, "#fff")], ChartLayout(50, 14, log_y=True))
    labels = [line.split("┤")[0].strip() for line in plain(lines) if "┤" in line]
    assert labels == ["0.1", "0.001", "1e-5"]  # whole decades, every other one at this height


def test_a_series_that_ended_before_the_cursor_says_its_value_is_from_its_last_step() -> None:
    short = PlotSeries("lr=1e-3", [0, 1, 2], [0, 1, 2], [3.0, 2.0, 1.0], None, "#fff")
    long = PlotSeries("lr=3e-3", list(range(10)), list(range(10)), [float(i) for i in range(10)], None, "#000")
    legend = plain(render_chart([short, long], ChartLayout(90, 12, cursor_step=8)))[-2:]
    assert "@2 1 (its last step) min 1 max 3" in legend[0]  # its last point: no "last" repeated
    assert "@8 8 last 9 min 0 max 9" in legend[1]
