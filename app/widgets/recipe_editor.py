"""The recipe's TOML in a TextArea, with a marker in the gutter on every line that has a problem."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widgets import TextArea

from cookbook_tui.app.config import RecipeProblem, is_error
from cookbook_tui.app.widgets.in_order_keys import run_own_binding

MARKER = "●"


def editor_language(available: set[str]) -> str | None:
    """TOML highlighting needs tree-sitter and tree-sitter-toml; without them, plain text."""
    return "toml" if "toml" in available else None


class RecipeEditor(TextArea):
    """Tab moves focus (to the problem list) rather than indenting: TOML needs no indentation,
    and Escape then goes straight back instead of first leaving a tab trap."""

    DEFAULT_CSS = """
    RecipeEditor { height: 1fr; }
    """

    def __init__(self, text: str, **kwargs) -> None:
        super().__init__(text, show_line_numbers=True, soft_wrap=False, tab_behavior="focus", **kwargs)
        self.language = editor_language(self.available_languages)
        self.problem_lines: set[int] = set()  # 0-based rows with an error
        self.warning_lines: set[int] = set()  # rows with only warnings

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):  # a fast key burst stays in order
            await super()._on_key(event)

    def on_resize(self) -> None:
        # The problem list below opens when a problem appears and takes the editor's bottom rows:
        # the line being typed would be left out of view until the next key moved the cursor.
        self.scroll_cursor_visible()

    def show_problems(self, problems: list[RecipeProblem]) -> None:
        errors = {p.line - 1 for p in problems if p.line and is_error(p)}
        warnings = {p.line - 1 for p in problems if p.line and not is_error(p)} - errors
        if (errors, warnings) != (self.problem_lines, self.warning_lines):
            self.problem_lines, self.warning_lines = errors, warnings
            self._line_cache.clear()  # rendered lines are cached with no notion of our markers
            self.refresh()

    def jump_to(self, line: int, column: int | None = None) -> None:
        row = max(0, min(line - 1, self.document.line_count - 1))
        self.move_cursor((row, max(0, (column or 1) - 1)), center=True)
        self.focus()

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        row = y + self.scroll_offset.y
        if not self.show_line_numbers or (row not in self.problem_lines and row not in self.warning_lines):
            return strip
        # The gutter is the line number then two spaces: the marker takes the first space.
        at = self.gutter_width - 2
        colour = self.app.theme_variables.get("error" if row in self.problem_lines else "warning", "red")
        marker = Strip([Segment(MARKER, Style.parse(f"bold {colour}"))], 1)
        return Strip.join([strip.crop(0, at), marker, strip.crop(at + 1, strip.cell_length)])
