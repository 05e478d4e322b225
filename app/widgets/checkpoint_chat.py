"""A small chat box: type a message, read what the checkpoint answers; it keeps the conversation."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Log

from cookbook_tui.app.printable import printable


class CheckpointChat(Vertical):
    DEFAULT_CSS = """
    CheckpointChat { height: 1fr; border: round $primary; }
    CheckpointChat Log { height: 1fr; overflow-x: hidden; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sampler_path: str | None = None
        # The conversation so far, as the OpenAI chat API takes it ([{role, content}, …]).
        self.history: list[dict[str, str]] = []

    def start(self, sampler_path: str, name: str) -> None:
        """Chat with `sampler_path`; another checkpoint starts a new conversation."""
        if sampler_path != self.sampler_path:
            self.sampler_path = sampler_path
            self.history = []
            self.query_one(Log).clear()
        self.border_title = f"Chat with {name}"

    def ask(self, text: str) -> list[dict[str, str]]:
        """Show the user's message; the conversation to send, ending with it."""
        self.add_turn("you", text)
        self.history.append({"role": "user", "content": text})
        return list(self.history)

    def answer(self, text: str) -> None:
        self.add_turn("model", text)
        self.history.append({"role": "assistant", "content": text})

    def failed(self, error: str) -> None:
        """The reply failed: say why here, and drop the unanswered message from the history."""
        if self.history and self.history[-1]["role"] == "user":
            self.history.pop()
        self.add_turn("error", error)

    # Esc leaves the chat box only: the run screen's own Esc (back) used to close the whole screen,
    # and the next keys typed went to the editor underneath.
    BINDINGS = [Binding("escape", "leave", "Leave chat", id="chat.leave")]

    class Left(Message):
        """The user left the chat box (Esc); the screen decides where focus goes."""

    def action_leave(self) -> None:
        self.display = False
        self.post_message(self.Left())

    def compose(self) -> ComposeResult:
        yield Log(id="chat-log", auto_scroll=True)
        yield Input(placeholder="Message for the checkpoint, Enter to send", id="chat-input")

    def add_turn(self, who: str, text: str) -> None:
        log = self.query_one(Log)
        # The Log does not wrap: wrap here, so a long reply or error is read whole.
        width = max(20, (log.size.width or 100) - len(who) - 3)
        lines = [
            piece
            for line in (printable(text).splitlines() or [""])
            for piece in (textwrap.wrap(line, width, break_long_words=True, break_on_hyphens=False) or [""])
        ]
        log.write_line(f"{who}: {lines[0]}")
        for line in lines[1:]:
            log.write_line(f"{' ' * len(who)}  {line}")
