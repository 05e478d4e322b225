"""The base of the app's full screens: the worker-error report, and `self.app` typed as ours."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import getters
from textual.screen import Screen

from cookbook_tui.screens.worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from cookbook_tui.app.cookbook_app import CookbookApp


class CookbookScreen(ReportsWorkerErrors, Screen[None]):
    """A screen of CookbookApp. Only the type changes: at run time `app` is Textual's own."""

    if TYPE_CHECKING:  # Textual's own typed getter, as Textual declares `app` for itself
        app = getters.app(CookbookApp)
