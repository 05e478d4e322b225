"""Entry point for the terminal app: `cookbook-tui`, `cookbook-tui open RUN_DIR`,
`cookbook-tui compare RUN_DIR RUN_DIR …` and `cookbook-tui edit RECIPE.toml`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    edit = sub.add_parser("edit", help="open a recipe file in the app's editor")
    edit.add_argument("recipe", help="path to a recipe TOML file")
    edit.set_defaults(handler=lambda args: run_tui(edit_recipe=args.recipe))

    open_cmd = sub.add_parser("open", help="open a run directory in the app")
    open_cmd.add_argument("run_dir", help="a run directory written by cookbook-tui or tinker-cookbook")
    open_cmd.set_defaults(handler=lambda args: run_tui(open_run_dir=args.run_dir))

    compare = sub.add_parser("compare", help="compare 2-8 run directories in the app")
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (ours or tinker-cookbook's)")
    compare.set_defaults(handler=lambda args: run_tui(compare_run_dirs=args.run_dirs))


def run_dir_problem(run_dir: str) -> str | None:
    """Why `run_dir` is not a run directory, naming it; None when it is one."""
    from cookbook_tui.runners.rundir import RUN_DIR_MARKERS, is_run_dir

    if not Path(run_dir).is_dir():
        return f"{run_dir}: no such run directory"
    if not is_run_dir(Path(run_dir)):
        return f"{run_dir}: not a run directory (no {', '.join(RUN_DIR_MARKERS[:-1])} or {RUN_DIR_MARKERS[-1]})"
    return None


def compare_problem(run_dirs: list[str]) -> str | None:
    """Why these run dirs cannot be compared, in words that name the bad one; None if they can."""
    from cookbook_tui.monitor.run_compare import MAX_RUNS

    if not 2 <= len(run_dirs) <= MAX_RUNS:
        return f"compare takes 2 to {MAX_RUNS} run directories, got {len(run_dirs)}"
    for run_dir in run_dirs:
        if problem := run_dir_problem(run_dir):
            return problem
    if len({Path(d).resolve() for d in run_dirs}) < len(run_dirs):
        return "the same run directory is named twice"
    return None


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


def run_tui(
    open_run_dir: str | None = None, compare_run_dirs: list[str] | None = None, edit_recipe: str | None = None
) -> int:
    if compare_run_dirs is not None:
        problem = compare_problem(compare_run_dirs)
        if problem:
            print(f"cookbook-tui compare: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        from cookbook_tui.app.cookbook_app import CookbookApp

        CookbookApp(compare_run_dirs=[Path(d) for d in compare_run_dirs]).run()
        return 0
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
