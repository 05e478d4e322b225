"""The command palette offers every action: each binding with an id on the current screen and the
app (whatever is focused), plus a recipe or run to open by name."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class CookbookCommands(Provider):
    def entries(self) -> Iterator[tuple[str, str, object]]:
        """(title, help, callback) for every action reachable from here."""
        screen = self.screen
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.id or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            yield binding.description, f"{binding.tooltip or binding.id}  ({key})", partial(
                self.app.run_action, binding.action, active.node
            )
        app = self.app
        yield from getattr(app, "palette_extras", lambda: [])()

    async def discover(self) -> Hits:
        for title, help_text, callback in self.entries():
            yield DiscoveryHit(title, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self.entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)  # type: ignore[arg-type]
