"""Notes and tags from the keyboard, kept in the run dir, shown and filtered in the runs list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .factory import FIXTURES, make_app
from .waiting import runs_read, wait_until

SIZE = (160, 40)


def names(screen) -> list[str]:
    return [f"{r.run_dir.parent.name}/{r.run_dir.name}" for r in screen.table.rows_shown]


async def test_tags_from_the_runs_list_land_in_the_run_dir_and_the_filter_finds_them_and_config_values(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES / "run_dirs", runs)
    app = make_app(runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await runs_read(pilot)
        screen = app.screen
        rl = runs / "arithmetic-rl" / "20261128-110000"
        screen.table.move_cursor(row=[r.run_dir for r in screen.table.rows_shown].index(rl))
        await pilot.press("number_sign", *"#rl-test, nightly", "enter")
        await wait_until(pilot, lambda: (rl / "notes.json").exists(), "notes.json written")
        assert json.loads((rl / "notes.json").read_text()) == {"note": "", "tags": ["rl-test", "nightly"]}
        await pilot.press("n", *"reward climbs", "enter")
        await wait_until(pilot, lambda: "reward" in (rl / "notes.json").read_text(), "the note written")
        await runs_read(pilot)
        assert screen.table.selected.notes.tags == ("rl-test", "nightly")  # kept beside the new note
        assert "#rl-test #nightly  reward climbs" in str(screen.table.get_row(str(rl)))

        await pilot.press("slash", *"tag:nightly")
        await pilot.pause()
        assert names(screen) == ["arithmetic-rl/20261128-110000"]
        box = screen.query_one("#runs-filter")
        box.value = "lr>2e-3"  # the recipes' learning_rate: 3e-3 and 1e-3
        await pilot.pause()
        assert names(screen) == ["arithmetic-sft/20261128-101500"]
        box.value = "tag:baseline lr<2e-3"
        await pilot.pause()
        assert names(screen) == []
        box.value = "lr>abc"
        await pilot.pause()
        assert "'abc' is not a number" in str(screen.query_one("#runs-folder").render())


async def test_a_note_from_the_run_screen_shows_in_its_title(tmp_path: Path) -> None:
    run = tmp_path / "sft"
    shutil.copytree(FIXTURES / "run_dirs/arithmetic-sft/20261128-101500", run)
    app = make_app(open_run_dir=str(run))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.sub_title == f"{run}  #baseline  lr 3e-3: the first try"
        await pilot.press("number_sign")
        await pilot.press(*["backspace"] * len("baseline"), *"best", "enter")
        await wait_until(pilot, lambda: "#best" in app.screen.sub_title, "the title shows the new tag")
        assert json.loads((run / "notes.json").read_text())["tags"] == ["best"]
