"""`?`: what each key does here and everywhere, taken from the live bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

ABOUT = (
    "cookbook-tui: recipes (TOML over tinker-cookbook) on the Tinker service or the local engine.\n"
    "Ctrl+P opens the command palette: every action is there, searchable."
)


def key_table(screen: Screen) -> Content:
    """The app's own bindings (those with an id) active on the screen under the help: the focused
    widget's, the screen's and the app's. Textual's generic cursor keys are left out."""
    rows: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.id or not binding.description or binding.system:
            continue
        label = screen.app.get_key_display(binding)
        entry = (label, binding.description)
        if entry not in seen:
            seen.add(entry)
            rows.append(entry)
    width = max((len(label) for label, _ in rows), default=0)
    return Content.assemble(
        *[part for label, text in rows for part in ((f"{label:>{width}}", "bold $text-accent"), f"  {text}\n")]
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close help", id="help.close"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help") as scroll:
            scroll.border_title = f"Help: {self.under.title or self.under.__class__.__name__}"
            yield Static(ABOUT, classes="help-about")
            yield Static(key_table(self.under), classes="help-keys")
