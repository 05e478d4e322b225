"""F3 in the editor: the key under the cursor with its type, default and doc (a cookbook module's
[config] field read from its chz CLIConfig)."""

from __future__ import annotations

from pathlib import Path

from cookbook_tui.recipes.paths import BUNDLED_DIR
from cookbook_tui.screens.editor import EditorScreen

from .factory import FixtureRecipe, make_app
from .waiting import wait_until


async def test_f3_shows_the_field_under_the_cursor() -> None:
    path = BUNDLED_DIR / "preference-shorter.toml"
    line = next(n for n, text in enumerate(path.read_text().splitlines()) if text.startswith("max_tokens"))
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_editor(FixtureRecipe("preference-shorter", Path(path), "cookbook", "local", "", True))
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        editor.editor.move_cursor((line, 0))
        await pilot.press("f3")
        await wait_until(pilot, lambda: any(n.title == "Field help" for n in app._notifications), "the field help")
        [note] = [n for n in app._notifications if n.title == "Field help"]
        assert note.message == "config.max_tokens: int (default 64)"
