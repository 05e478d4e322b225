"""Home: every recipe (bundled, ./recipes, the user's folder), filtered as you type."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from cookbook_tui.app.widgets.in_order_input import InOrderInput
from cookbook_tui.app.widgets.in_order_keys import focus_now, open_filter_in_order
from cookbook_tui.app.widgets.recipe_table import RecipeTable
from cookbook_tui.screens.base import CookbookScreen


class RecipesScreen(CookbookScreen):
    TITLE = "Recipes"
    left_for_another_screen = False  # set once the editor or runs screen has covered this one

    BINDINGS = [
        # priority: "/" in the filter moves focus there rather than typing a "/" into it.
        Binding("slash", "focus_filter", "Filter", id="recipes.filter", priority=True),
        Binding("ctrl+l", "reload", "Reload", id="recipes.reload"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="recipes.clear_filter"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        # select_on_focus would select the letter that typing on the list just put there (after the
        # next refresh), and the following letter would replace it: "dpo" became "po".
        yield InOrderInput(
            placeholder="Type to filter recipes (name, workflow, backend, words)", id="recipe-filter",
            select_on_focus=False,
        )
        yield RecipeTable(id="recipe-table")
        yield Static(id="recipe-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one(RecipeTable).focus()

    def on_screen_suspend(self) -> None:
        self.left_for_another_screen = True
        # Coming back shows every recipe: a filter typed to find one is done with once it opened
        # (a dialog, help or the palette over this screen keeps it).
        if not isinstance(self.app.screen, ModalScreen):
            self.query_one(Input).value = ""

    def on_screen_resume(self) -> None:
        # A recipe saved in the editor (save-as) shows up when the user comes back.
        if self.left_for_another_screen:
            self.action_reload()

    @property
    def table(self) -> RecipeTable:
        return self.query_one(RecipeTable)

    def action_reload(self) -> None:
        # Reading a dozen small TOML files takes milliseconds: done here so the list is never empty
        # on the first frame. A broken recipe file must not take the list down, hence the guard.
        try:
            recipes = self.app.config.list_recipes()
        except Exception as error:  # noqa: BLE001 - shown to the user, the app stays up
            self.query_one("#recipe-detail", Static).update(Content(f"Could not list recipes: {error}"))
            recipes = []
        self.table.set_recipes(recipes, self.query_one(Input).value)
        self.show_detail()

    def action_focus_filter(self) -> None:
        focus_now(self.query_one(Input))

    def action_clear_filter(self) -> None:
        self.query_one(Input).value = ""
        self.table.focus()

    def open_selected(self) -> None:
        recipe = self.table.selected
        if recipe is not None:
            self.app.open_editor(recipe)

    @on(Input.Changed, "#recipe-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.table.apply_filter(event.value)
        self.show_detail()

    @on(Input.Submitted, "#recipe-filter")
    def filter_submitted(self) -> None:
        self.open_selected()

    @on(DataTable.RowSelected, "#recipe-table")
    def row_chosen(self) -> None:
        self.open_selected()

    @on(DataTable.RowHighlighted, "#recipe-table")
    def row_highlighted(self) -> None:
        self.show_detail()

    def on_key(self, event: Key) -> None:
        box = self.query_one(Input)
        # Typing on the list goes to the filter, so "filter as you type" needs no extra key.
        if self.focused is self.table and event.is_printable and event.character and event.character not in "/?":
            focus_now(box)
        open_filter_in_order(event, box, self.action_focus_filter)

    def show_detail(self) -> None:
        detail = self.query_one("#recipe-detail", Static)
        recipe = self.table.selected
        if recipe is None:
            shown, total = len(self.table.shown), len(self.table.recipes)
            detail.update(Content(f"No recipe matches ({shown} of {total} shown)." if total else "No recipes found."))
            return
        detail.update(
            Content.assemble(
                (recipe.name, "bold $text-accent"),
                f"  {recipe.workflow} on {recipe.backend}\n",
                (str(recipe.path), "$text-muted"),
                "\n",
                recipe.description,
            )
        )
