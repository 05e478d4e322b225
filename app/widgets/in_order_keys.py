"""Keys applied in the order they were typed, for text widgets (the editor, the recipe filter).

Textual inserts a printable key at once, in the focused widget's key handler, but runs that
widget's bindings (Backspace, Delete, arrows, Home/End …) only once the key has bubbled up to the
App, one message hop per ancestor. In a fast burst (a terminal delivers several keys in one read)
the letters typed after a Backspace or a Left were applied before it: at the end of `3e-3`, four
Backspaces then `1e-3` left `3e-3`; `# abc`, Left, Left, `X` gave `# abcX`. Measured in tmux with
a plain TextArea too (textual 8.2.8): it is Textual's dispatch, not our validation or gutter.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.widget import Widget
from textual.widgets import Input


async def run_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run `widget`'s own (non-priority) binding for a non-printable key now; True if one ran.
    The focused widget's binding is the one Textual would pick later anyway."""
    if event.is_printable or event.key in ("enter", "tab"):
        return False
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False



def open_filter_in_order(event: events.Key, box: Input, open_filter: Callable[[], None], key: str = "slash") -> bool:
    """For the widget or screen whose `key` opens the filter `box`: open it as the key is handled
    here, not once it has bubbled up to the App, and type the letters queued behind it into the
    box. In a burst (`/abc` in one read) those letters were handed to the widget that had the
    focus; they arrive here after the filter took it. True if the key was taken."""
    # `has_focus` changes only once the Focus message is handled: ask the screen.
    focused = box.screen.focused is box
    if event.key == key and not focused:
        open_filter()
    elif focused and event.is_printable and event.character:
        box.insert_text_at_cursor(event.character)  # the box's own keys never get here: Input stops them
    else:
        return False
    event.stop()
    event.prevent_default()
    return True


def focus_now(widget: Widget) -> None:
    """Give `widget` the focus before the next key is handled: `Widget.focus()` moves it only
    once the messages already queued are handled."""
    widget.screen.set_focus(widget)
