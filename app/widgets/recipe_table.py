"""The recipes list: name, workflow, backend, where it comes from; filtered as the user types."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from textual.binding import Binding
from textual.widgets import DataTable

from cookbook_tui.app.config import RecipeEntry


def matches(recipe: RecipeEntry, query: str) -> bool:
    """Every word of the query appears in the name, workflow, backend or description."""
    haystack = " ".join([recipe.name, recipe.workflow, recipe.backend, recipe.description]).lower()
    return all(word in haystack for word in query.lower().split())


class RecipeTable(DataTable[str]):
    DEFAULT_CSS = """
    RecipeTable { height: 1fr; }
    """

    BINDINGS = [Binding("enter", "select_cursor", "Edit", id="recipes.edit")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.recipes: list[RecipeEntry] = []
        self.shown: list[RecipeEntry] = []

    def on_mount(self) -> None:
        self.add_column("Recipe", key="name")
        self.add_column("Workflow", key="workflow")
        self.add_column("Backend", key="backend")
        self.add_column("From", key="origin")
        self.add_column("Description", key="description")

    def set_recipes(self, recipes: Sequence[RecipeEntry], query: str = "") -> None:
        self.recipes = list(recipes)
        self.apply_filter(query)

    def apply_filter(self, query: str) -> None:
        keep = self.selected
        self.shown = [recipe for recipe in self.recipes if matches(recipe, query)]
        self.clear()
        for recipe in self.shown:
            self.add_row(
                recipe.name,
                recipe.workflow,
                recipe.backend,
                "bundled" if recipe.bundled else "yours",
                recipe.description,
                key=str(recipe.path),
            )
        # The cursor stays on the recipe it was on, if that one is still shown.
        rows = [recipe.path for recipe in self.shown]
        if keep is not None and keep.path in rows:
            self.move_cursor(row=rows.index(keep.path), animate=False)

    @property
    def selected(self) -> RecipeEntry | None:
        if not self.shown or self.cursor_row < 0 or self.cursor_row >= len(self.shown):
            return None
        return self.shown[self.cursor_row]

    def recipe_at(self, path: Path) -> RecipeEntry | None:
        return next((recipe for recipe in self.recipes if recipe.path == path), None)
