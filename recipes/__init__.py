"""cookbook-tui recipes: the TOML format, its validation, and the bundled recipes and data.

The names below load on first use (PEP 562), so a light submodule such as `recipes.paths` can be
imported by the TUI's first frame without the validator and its dependencies.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_WHERE = {
    "RecipeInfo": "catalog",
    "list_recipes": "catalog",
    "RecipeError": "issues",
    "RecipeIssue": "issues",
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "recipe_from_text": "recipe",
    "check_deep": "validate",
    "check_text": "validate",
}

__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    # `X as X`: re-exports (the names `__getattr__` loads lazily), for type checkers and linters.
    from cookbook_tui.recipes.catalog import RecipeInfo as RecipeInfo
    from cookbook_tui.recipes.catalog import list_recipes as list_recipes
    from cookbook_tui.recipes.issues import RecipeError as RecipeError
    from cookbook_tui.recipes.issues import RecipeIssue as RecipeIssue
    from cookbook_tui.recipes.recipe import Recipe as Recipe
    from cookbook_tui.recipes.recipe import load_recipe as load_recipe
    from cookbook_tui.recipes.recipe import recipe_from_text as recipe_from_text
    from cookbook_tui.recipes.validate import check_deep as check_deep
    from cookbook_tui.recipes.validate import check_text as check_text


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
