"""cookbook-tui recipes: the TOML format, its validation, and the bundled recipes and data."""

from cookbook_tui.recipes.catalog import RecipeInfo, list_recipes
from cookbook_tui.recipes.issues import RecipeError, RecipeIssue
from cookbook_tui.recipes.recipe import Recipe, load_recipe, recipe_from_text
from cookbook_tui.recipes.validate import check_recipe_text, validate_recipe_text

__all__ = [
    "Recipe",
    "RecipeError",
    "RecipeInfo",
    "RecipeIssue",
    "check_recipe_text",
    "list_recipes",
    "load_recipe",
    "recipe_from_text",
    "validate_recipe_text",
]
