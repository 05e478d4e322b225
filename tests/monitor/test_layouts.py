"""The layouts file: one table per kind of run, errors that name file:line, saves that keep the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook_tui.monitor.chart_grid_model import GridModel
from cookbook_tui.monitor.layouts import (
    GridLayout,
    LayoutError,
    apply_layout,
    layout_kind,
    layout_of,
    load_layouts,
    save_layout,
)


def test_a_kind_is_the_workflow_and_for_cookbook_runs_the_entry_module() -> None:
    assert layout_kind("rl") == "rl"
    assert layout_kind("cookbook", "tinker_cookbook.recipes.math_rl.train") == "cookbook:tinker_cookbook.recipes.math_rl.train"
    assert layout_kind(None) is None


def test_saving_one_kind_keeps_the_others_and_the_comments_and_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "layouts.toml"
    path.write_text("# mine\n[sl]\nsmoothing = 0.9  # smooth\n")
    layout = GridLayout(pinned=["env/all/reward/total"], merged=[["env/all/reward/total", "test/env/all/reward/total"]],
                        smoothing=0.8, x_axis="tokens", filter="^env/", log_y=["optim/kl_sample_train_v1"])
    kind = "cookbook:tinker_cookbook.recipes.math_rl.train"
    save_layout(path, kind, layout)
    text = path.read_text()
    assert "# mine" in text and "# smooth" in text
    layouts = load_layouts(path)
    assert layouts[kind] == layout and layouts["sl"].smoothing == 0.9
    save_layout(path, kind, None)  # back to the default: the kind's table goes
    assert set(load_layouts(path)) == {"sl"}


def test_applying_a_layout_to_a_grid_and_reading_it_back() -> None:
    layout = GridLayout(pinned=["b"], unpinned=["a"], merged=[["b", "c"]], smoothing=0.0, x_axis="time", filter="b|c")
    model = GridModel()
    apply_layout(model, layout)
    assert layout_of(model) == layout
    assert model.merges.members("b + c") == ("b", "c") and model.smoothing == 0.0 and model.filter_text == "b|c"


@pytest.mark.parametrize(("text", "expected"), [
    ("[rl]\nsmoothing = 0.5\npinned = [\"a\"\n", ":3: Unclosed array"),  # TOML syntax, at the end
    ("[rl]\nsmoothing = = 0.5\n", ":2:13: Invalid value"),  # TOML syntax: tomllib's line and column
    ("[rl]\npinned = []\nsmoothing = 2\n", ":3: rl.smoothing: must be a number from 0 to 0.99, got 2"),
    ("[sl]\n\n[rl]\nx_axis = \"epochs\"\n", ':4: rl.x_axis: must be one of "step", "time", "tokens", got \'epochs\''),
    ("[rl]\nmerged = [[\"a\"]]\n", ":2: rl.merged: must be a list of lists of two or more metric names"),
    ("[rl]\npins = []\n", ":2: rl.pins: unknown key (known: pinned,"),
    ("smoothing = 0.5\n", ":1: smoothing: must be a table of layout settings"),
])
def test_a_broken_file_is_an_error_naming_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "layouts.toml"
    path.write_text(text)
    with pytest.raises(LayoutError) as caught:
        load_layouts(path)
    assert str(caught.value).startswith(f"{path}:") and expected in str(caught.value)
    with pytest.raises(LayoutError):  # and it is never saved over
        save_layout(path, "rl", GridLayout())
    assert path.read_text() == text
