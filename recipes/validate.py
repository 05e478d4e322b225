"""Recipe validation: the one place the CLI (`validate`, `--run`) and the TUI editor check recipes.
A recipe's text in, its issues out (errors and warnings, each naming its place and field);
nothing is resolved here (resolve.py builds the typed Recipe from validated data).

- `check_text` is cheap enough to run on every keystroke: TOML syntax, unknown keys (with a
  did-you-mean), types, ranges, choices, keys a workflow ignores, what each workflow needs, local
  files and their first lines, [cookbook]/[config] fields, TINKER_API_KEY.
- `check_deep` adds what may take seconds: entry points are imported, hub datasets and models
  are looked up (cache first, then the hub within 5 s), get_lr is asked for "auto".

The checks, in the order they run, each one module: structure.py (the declaration's keys),
needs.py (workflow needs and files), chz_tables.py, backend_checks.py, deep_checks.py. A new
section's own checks go in a module of their own, called from `_cheap_checks` (or `check_deep`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookbook_tui.recipes.backend_checks import check_backend, check_renderer
from cookbook_tui.recipes.checker import Checker
from cookbook_tui.recipes.chz_schema import may_import_here
from cookbook_tui.recipes.chz_tables import check_cookbook_tables
from cookbook_tui.recipes.deep_checks import check_deep_needs
from cookbook_tui.recipes.issues import RecipeIssue
from cookbook_tui.recipes.needs import check_workflow_needs
from cookbook_tui.recipes.paths import base_dir_for
from cookbook_tui.recipes.structure import RecipeView, check_structure, recipe_view
from cookbook_tui.recipes.syntax import parse_toml


def check_text(
    text: str, source: str = "<recipe>", *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[RecipeIssue]:
    """Every problem the cheap checks find (per keystroke); `base_dir`: where relative data paths
    resolve (default: the recipe file's folder), `environ`: the environment a run would get."""
    data = parse_toml(text, source)
    if isinstance(data, RecipeIssue):
        return [data]
    return check_parsed(data, text, source, deep=False, base_dir=base_dir, environ=environ)


def check_deep(
    text: str, source: str = "<recipe>", *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[RecipeIssue]:
    """`check_text`'s problems and those of the deep checks (imports, hub lookups: seconds)."""
    data = parse_toml(text, source)
    if isinstance(data, RecipeIssue):
        return [data]
    return check_parsed(data, text, source, deep=True, base_dir=base_dir, environ=environ)


def check_parsed(
    data: dict[str, Any],
    text: str,
    source: str,
    *,
    deep: bool,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[RecipeIssue]:
    """The checks of `check_text` (and, with `deep`, `check_deep`) on text already parsed as
    `data`: for the loader, which parses once to validate and resolve."""
    chk = Checker(text, source)
    # In the TUI's process the cookbook's classes are read in a subprocess (textual is loaded);
    # deep checks import them here.
    in_process = deep or may_import_here()
    base = base_dir if base_dir is not None else base_dir_for(source)
    view = _cheap_checks(chk, data, base, os.environ if environ is None else environ, in_process)
    if deep:
        check_deep_needs(chk, view)
    return chk.sorted_issues()


def _cheap_checks(chk: Checker, data: dict[str, Any], base_dir: Path, environ: Mapping[str, str], in_process: bool) -> RecipeView:
    check_structure(chk, data)
    view = recipe_view(data)
    check_workflow_needs(chk, view, base_dir)
    check_cookbook_tables(chk, view, in_process)
    check_renderer(chk, view)
    check_backend(chk, view, environ, in_process)
    return view
