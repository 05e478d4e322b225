"""Text from models and logs reaches the screen without raw control characters."""

from __future__ import annotations

from cookbook_tui.app.printable import printable


def test_control_characters_from_a_model_are_shown_not_sent_to_the_terminal() -> None:
    assert printable("lower\x17is\x1b[31m\n\tok\x7f") == "lower\u2417is\u241b[31m\n\tok\u2421"
