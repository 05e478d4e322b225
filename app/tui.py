"""Entry point for the terminal app: `cookbook-tui`, `cookbook-tui open RUN_DIR` and
`cookbook-tui edit RECIPE.toml`."""

from __future__ import annotations

import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


def recipe_file_problem(path: Path) -> str | None:
    """Why `path` cannot be opened in the editor, or None. A recipe with TOML or schema errors
    opens: the editor lists them, and fixing them is what it is for."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a folder, not a recipe file"
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "not a text file (not UTF-8)"
    except OSError as error:
        return f"cannot read it ({error.strerror or error})"
    return None


def run_tui(open_run_dir: str | None = None, edit_recipe: str | None = None) -> int:
    if open_run_dir is not None and not Path(open_run_dir).is_dir():
        print(f"cookbook-tui open: {open_run_dir}: no such run directory", file=sys.stderr)
        return EXIT_BAD_INPUT
    if edit_recipe is not None:
        problem = recipe_file_problem(Path(edit_recipe))
        if problem:
            print(f"cookbook-tui edit: {edit_recipe}: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from cookbook_tui.app.cookbook_app import CookbookApp

    CookbookApp(
        open_run_dir=Path(open_run_dir) if open_run_dir else None,
        edit_recipe=Path(edit_recipe) if edit_recipe else None,
    ).run()
    return 0
