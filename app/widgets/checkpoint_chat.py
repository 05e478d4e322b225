"""A small sampling box: type a prompt, read what the checkpoint answers."""

from __future__ import annotations

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
        lines = printable(text).splitlines() or [""]
        log.write_line(f"{who}: {lines[0]}")
        for line in lines[1:]:
            log.write_line(f"{' ' * len(who)}  {line}")
