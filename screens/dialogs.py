"""Small modal questions: confirm, quit with runs in progress, a file name for save-as, a completion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList

from cookbook_tui.app.widgets.in_order_input import InOrderInput

if TYPE_CHECKING:  # the first frame does not load the recipe format (pydantic)
    from cookbook_tui.recipes.completion import Candidate


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; Escape is no."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel", id="dialog.cancel")]

    def __init__(self, question: str, yes_label: str = "Yes", yes_variant: str = "error") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.yes_variant = yes_variant

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, variant=self.yes_variant, id="yes")  # type: ignore[arg-type]
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class QuitScreen(ModalScreen[str | None]):
    """Runs are still training: leave them running, stop them, or stay."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Stay", id="quit.cancel")]

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        one = self.running == 1
        runs, them = ("1 run is", "it") if one else (f"{self.running} runs are", "them")
        with Vertical(classes="dialog"):
            yield Label(f"{runs} still training.", classes="dialog-question")
            yield Label(f"Leave {them} running (reopen {them} later from Runs) or stop {them} now?")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Leave running", variant="primary", id="leave")
                yield Button(f"Stop {them}", variant="error", id="stop")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#leave", Button).focus()

    @on(Button.Pressed)
    def answer(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)


class AskScreen(ModalScreen[str | None]):
    """One line of text (None when cancelled, or when empty unless `allow_empty`); Escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="ask.cancel")]

    def __init__(
        self, question: str, value: str = "", placeholder: str = "", *,
        ok_label: str = "OK", ok_id: str = "ok", input_id: str = "ask-value", allow_empty: bool = False,
    ) -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder
        self.ok_label, self.ok_id, self.input_id = ok_label, ok_id, input_id
        self.allow_empty = allow_empty

    def answer(self, text: str) -> str | None:
        text = text.strip()
        return text if text or self.allow_empty else None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-question")
            yield InOrderInput(value=self.value, placeholder=self.placeholder, id=self.input_id)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok_label, variant="primary", id=self.ok_id)
                yield Button("Cancel", id="cancel")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self.answer(event.value))

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        if event.button.id == self.ok_id:
            self.dismiss(self.answer(self.query_one(Input).value))
        else:
            self.dismiss(None)


class SaveAsScreen(AskScreen):
    """Ask for a recipe name; the file goes into the user's recipes folder."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="save_as.cancel")]

    def __init__(self, folder: str, suggestion: str) -> None:
        super().__init__(f"Save a copy in {folder}", suggestion, "recipe name",
                         ok_label="Save", ok_id="save", input_id="save-as-name")
        self.folder = folder
        self.suggestion = suggestion


class CompletionScreen(ModalScreen["Candidate | None"]):
    """Ctrl+Space in the editor: pick one of the completions (Enter), or none (Escape); each
    candidate's doc is shown beside its name."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="completion.cancel")]

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        super().__init__()
        self.candidates = list(candidates)

    def compose(self) -> ComposeResult:
        width = max(len(c.label) for c in self.candidates)
        options = [
            Content.assemble((f"{c.label:<{width}}", "bold"), (f"  {c.doc}" if c.doc else "", "$text-muted"))
            for c in self.candidates
        ]
        with Vertical(classes="dialog completion"):
            yield OptionList(*options, id="completion-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.candidates[event.option_index])
