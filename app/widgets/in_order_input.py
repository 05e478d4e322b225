"""An Input whose Backspace and arrows keep their place in a fast key burst (the recipe filter,
the save-as name); see in_order_keys."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from cookbook_tui.app.widgets.in_order_keys import run_own_binding


class InOrderInput(Input):
    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):
            await super()._on_key(event)
