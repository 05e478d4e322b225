"""The recipes list: name, workflow, backend, where it comes from; filtered as the user types."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.cells import cell_len
from textual.binding import Binding
from textual.widgets import DataTable

from cookbook_tui.app.cell_text import ellipsize, reset_column_widths, short_path
from cookbook_tui.app.config import RecipeEntry


def matches(recipe: RecipeEntry, query: str) -> bool:
    """Every word of the query appears in the name, workflow, backend or description."""
    haystack = " ".join([recipe.name, recipe.workflow, recipe.backend, recipe.description]).lower()
    return all(word in haystack for word in query.lower().split())


def name_matches(recipe: RecipeEntry, query: str) -> bool:
    """Every word of the query is in the name itself: such recipes are listed first."""
    return all(word in recipe.name.lower() for word in query.lower().split())


def origin(recipe: RecipeEntry) -> str:
    """Where the recipe comes from: bundled, or its file, so copies with one `name` differ."""
    return "bundled" if recipe.bundled else short_path(recipe.path)


def column_widths(total: int, recipes: Sequence[RecipeEntry]) -> tuple[int, int, int]:
    """Widest name, origin and description cells for a table `total` cells wide: at 80 columns
    every column still shows; the description gets whatever the other columns leave."""
    total = max(total, 60)
    name = min(max(16, total // 4), max((cell_len(r.name) for r in recipes), default=0))
    where = min(max(14, total // 5), max((cell_len(origin(r)) for r in recipes), default=0))
    workflow = max((cell_len(r.workflow) for r in recipes), default=0)
    backend = max((cell_len(r.backend) for r in recipes), default=0)
    # 2 cells of padding a column, and the headers' own widths
    used = max(name, 6) + max(workflow, 8) + max(backend, 7) + max(where, 4) + 2 * 5
    return name, where, max(11, total - used - 1)


class RecipeTable(DataTable[str]):
    DEFAULT_CSS = """
    RecipeTable { height: 1fr; }
    """

    BINDINGS = [Binding("enter", "select_cursor", "Edit", id="recipes.edit")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.recipes: list[RecipeEntry] = []
        self.shown: list[RecipeEntry] = []
        self.filter_text = ""
        self._laid_out_for = 0

    def on_mount(self) -> None:
        self.add_column("Recipe", key="name")
        self.add_column("Workflow", key="workflow")
        self.add_column("Backend", key="backend")
        self.add_column("From", key="origin")
        self.add_column("Description", key="description")

    def on_resize(self) -> None:
        # Cells are cut to the table's width: a new width lays them out again.
        if self.size.width != self._laid_out_for:
            self._laid_out_for = self.size.width
            self.apply_filter(self.filter_text)

    def set_recipes(self, recipes: Sequence[RecipeEntry], query: str = "") -> None:
        self.recipes = list(recipes)
        self.apply_filter(query)

    def apply_filter(self, query: str) -> None:
        # A reload keeps the cursor on its recipe; a new filter puts it on the best match, so
        # Enter opens what the user was typing towards.
        keep = self.selected if query == self.filter_text else None
        self.filter_text = query
        found = [recipe for recipe in self.recipes if matches(recipe, query)]
        # Recipes named like the query first (a description mentioning it is a weaker match).
        self.shown = sorted(found, key=lambda recipe: not name_matches(recipe, query))
        name_width, origin_width, description_width = column_widths(self.size.width or self.app.size.width, found)
        self.clear()
        reset_column_widths(self, self.size.width or self.app.size.width)
        for recipe in self.shown:
            self.add_row(
                ellipsize(recipe.name, name_width),
                recipe.workflow,
                recipe.backend,
                ellipsize(origin(recipe), origin_width, keep_end=True),
                ellipsize(recipe.description, description_width),
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
