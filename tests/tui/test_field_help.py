"""F3 in the editor: the key under the cursor with its type, default and doc (a cookbook module's
[config] field read from its chz CLIConfig)."""

from __future__ import annotations

from pathlib import Path

from cookbook_tui.recipes.paths import BUNDLED_DIR
from cookbook_tui.screens.dialogs import CompletionScreen
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


async def test_ctrl_space_completes_a_key_and_offers_a_keys_choices(tmp_path: Path) -> None:
    recipe = tmp_path / "mine.toml"
    recipe.write_text('workflow = "sl"\n[model]\nname = "cookbook-tui/tiny-chat"\nlora\n')
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        app.open_editor(FixtureRecipe("mine", recipe, "sl", "local", "", False))
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, EditorScreen)
        editor.editor.move_cursor((3, 4))
        await pilot.press("ctrl+space")  # one candidate: inserted at once
        await wait_until(pilot, lambda: "lora_rank = " in editor.text, "the completed key")
        await pilot.press(*"3", "enter", *'renderer = "qwen3_v')
        await pilot.press("ctrl+space")  # several: a list to pick from
        await wait_until(pilot, lambda: isinstance(app.screen, CompletionScreen), "the completion list")
        assert isinstance(app.screen, CompletionScreen)
        assert [c.label for c in app.screen.candidates] == ["qwen3_vl", "qwen3_vl_instruct"]
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: 'renderer = "qwen3_vl_instruct"' in editor.text, "the chosen renderer")
        assert editor.text.endswith('lora_rank = 3\nrenderer = "qwen3_vl_instruct"\n')
        assert editor.editor.cursor_location == (4, len('renderer = "qwen3_vl_instruct"'))
