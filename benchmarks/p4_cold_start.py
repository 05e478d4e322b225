"""P4: `cookbook-tui` cold start to its first frame vs a bare Textual hello app. Each side is a
fresh interpreter that builds its app, renders the first screen headless and exits from an
auto-pilot; wall time from spawn to exit. Goal: ratio <= 1.5x."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from .common import Comparison, Result

FIRST_FRAME_THEN_EXIT = """
async def auto_pilot(pilot):
    await pilot.pause()
    pilot.app.exit()
"""

COOKBOOK = FIRST_FRAME_THEN_EXIT + """
from cookbook_tui.app.cookbook_app import CookbookApp
CookbookApp().run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
"""

HELLO = FIRST_FRAME_THEN_EXIT + """
from textual.app import App
from textual.widgets import Footer, Header, Static
class Hello(App):
    def compose(self):
        yield Header()
        yield Static("Hello")
        yield Footer()
Hello().run(headless=True, size=(120, 40), auto_pilot=auto_pilot)
"""

HEAVY_CHECK = COOKBOOK + """
import sys
print(" ".join(m for m in ("torch", "transformers", "tinker", "datasets", "peft") if m in sys.modules))
"""


def spawn_times(code: str, repeats: int, cwd: str) -> list[float]:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, capture_output=True, timeout=120)
        times.append(time.perf_counter() - start)
    return times[1:]  # the first run warms the OS file cache


def run(quick: bool = False) -> Result:
    repeats = 3 if quick else 10
    cwd = tempfile.mkdtemp(prefix="bench-p4-")  # no ./recipes or ./runs: the fresh-machine start
    os.environ.setdefault("COOKBOOK_TUI_CONFIG_DIR", os.path.join(cwd, "config"))
    ours = spawn_times(COOKBOOK, repeats, cwd)
    hello = spawn_times(HELLO, repeats, cwd)
    heavy = subprocess.run([sys.executable, "-c", HEAVY_CHECK], cwd=cwd, capture_output=True, text=True, timeout=120).stdout.strip()
    result = Result(
        benchmark="p4_cold_start",
        title="cold start to first frame (fresh interpreter, headless)",
        ours_label="cookbook-tui",
        reference_label="Textual hello app",
    )
    result.rows.append(
        Comparison.of_times(
            "home screen",
            "s",
            ours,
            hello,
            goal="<= 1.5x (ratio >= 0.67)",
            notes=f"median of {repeats}; heavy modules imported: {heavy or 'none'}",
        )
    )
    return result
