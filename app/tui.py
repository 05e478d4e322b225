"""Entry point for the terminal app (the screens arrive with the TUI issue)."""

from __future__ import annotations


def run_tui(open_run_dir: str | None = None) -> int:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Static

    class CookbookApp(App[None]):
        TITLE = "cookbook-tui"
        BINDINGS = [("q", "quit", "Quit")]

        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("cookbook-tui: recipes, runs and live panes are on their way.")
            yield Footer()

    CookbookApp().run()
    return 0
