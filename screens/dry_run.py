"""What a dry run printed: the resolved config and one rendered example with its loss mask.

The runner colours the mask itself (trained tokens bold green, context dim) when FORCE_COLOR is
set, which the editor does; its ANSI colours are kept here.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class DryRunScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close", id="dry_run.close")]

    def __init__(self, recipe: Path, returncode: int, output: str) -> None:
        super().__init__()
        self.recipe = recipe
        self.returncode = returncode
        self.output = output

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide") as scroll:
            ok = self.returncode == 0
            scroll.border_title = f"Dry run: {self.recipe.name} " + ("(ok)" if ok else f"(exit {self.returncode})")
            scroll.border_subtitle = "Esc closes"
            text = Text.from_ansi(self.output.rstrip("\n")) if self.output.strip() else Text("(no output)")
            yield Static(Content.from_rich_text(text), classes="dry-run-output")

    def on_mount(self) -> None:
        # The example with its loss mask is at the end: show that first.
        self.query_one(VerticalScroll).scroll_end(animate=False)
