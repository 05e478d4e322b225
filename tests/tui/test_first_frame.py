"""The first frame comes up with the real recipes and without torch & co imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HEAVY = ["torch", "transformers", "tinker", "tinker_cookbook", "datasets", "peft"]


def test_first_frame_without_heavy_imports(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from cookbook_tui.app.cookbook_app import CookbookApp
        from cookbook_tui.screens.recipes import RecipesScreen

        async def main():
            app = CookbookApp()
            async with app.run_test(size=(120, 36)) as pilot:
                await pilot.pause()
                assert isinstance(app.screen, RecipesScreen), app.screen
                shown = len(app.screen.query_one("#recipe-table").shown)
            heavy = [m for m in {HEAVY!r} if m in sys.modules]
            print(shown, " ".join(heavy))

        asyncio.run(main())
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    shown, *heavy = out.stdout.split()
    assert int(shown) > 0  # the bundled recipes are listed on the first frame
    assert heavy == []
