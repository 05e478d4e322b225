"""The CLI's headless commands: `validate RECIPE` and `--run RECIPE` (with --dry-run, --log-dir,
--resume, --backend, --quiet, --json-events).

Exit codes: 0 done, 1 the run failed, 2 a bad recipe or bad arguments (the message names file,
line and field; no traceback), 130 cancelled (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from cookbook_tui.recipes import Recipe, RecipeError, load_recipe
from cookbook_tui.recipes.backend_checks import MISSING_KEY_MESSAGE
from cookbook_tui.recipes.issues import RecipeIssue

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def _print_issues(issues: list[RecipeIssue]) -> None:
    err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)
    for issue in issues:
        err.print(str(issue), style=None if issue.is_error else "yellow")


def _offline_if_local(path: str, backend: str | None) -> None:
    """Deep validation imports the cookbook (a `[cookbook]` table, an entry module), and with it
    huggingface_hub, which reads HF_HUB_OFFLINE once: a local run must set it first, or every
    tokenizer load retries the hub for ~30 s."""
    import tomllib

    if backend is None:
        try:
            backend = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("backend", "local")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return
    if backend == "local":
        from cookbook_tui.common.tiny_model import set_offline_env

        set_offline_env()


def _load(path: str, backend: str | None, base_dir: Path | None = None) -> Recipe | None:
    _offline_if_local(path, backend)
    try:
        recipe = load_recipe(path, deep=True, backend=backend, base_dir=base_dir)
    except RecipeError as exc:
        _print_issues(exc.issues)
        return None
    _print_issues(recipe.warnings)
    return recipe


def validate_main(args: argparse.Namespace) -> int:
    recipe = _load(args.recipe, None)
    if recipe is None:
        return EXIT_BAD_INPUT
    print(f"{args.recipe}: ok (workflow {recipe.workflow}, backend {recipe.backend}, model {recipe.model_name})")
    return EXIT_OK


def _bad(message: str) -> int:
    Console(stderr=True, highlight=False, markup=False, soft_wrap=True).print(f"cookbook-tui: {message}")
    return EXIT_BAD_INPUT


def _run_dir_for(args: argparse.Namespace, recipe: Recipe) -> tuple[Path, bool] | int:
    """(run dir, resuming) or an exit code."""
    from cookbook_tui.runners import rundir

    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / rundir.RECIPE_FILE).is_file():
            return _bad(f"--resume {run_dir}: not a cookbook-tui run dir (no {rundir.RECIPE_FILE})")
        status = rundir.read_status(run_dir)
        if status.is_active:
            return _bad(f"--resume {run_dir}: the run is still going (pid {status.pid})")
        return run_dir, True
    if args.log_dir:
        run_dir = Path(args.log_dir)
        if rundir.is_run_dir(run_dir):
            return _bad(f"--log-dir {run_dir} already holds a run: continue it with --resume {run_dir}, or pick a new dir")
        return run_dir, False
    return rundir.new_run_dir("runs", rundir.run_folder_name(recipe.path, recipe.name)), False


def run_main(args: argparse.Namespace) -> int:
    base_dir = None
    if args.run:
        recipe_path = args.run
    elif args.resume:
        from cookbook_tui.runners import rundir

        recipe_path = str(Path(args.resume) / rundir.RECIPE_FILE)
        if not Path(recipe_path).is_file():
            return _bad(f"--resume {args.resume}: not a cookbook-tui run dir (no recipe.toml)")
        # The copy's relative data paths still mean the original recipe's folder.
        base_dir = rundir.recipe_base_dir(Path(args.resume))
    else:
        return _bad("--run RECIPE or --resume RUN_DIR is needed")
    recipe = _load(recipe_path, args.backend, base_dir)
    if recipe is None:
        return EXIT_BAD_INPUT
    if args.dry_run:
        return _dry_run(recipe)
    if recipe.backend == "tinker" and not os.environ.get("TINKER_API_KEY"):
        return _bad(MISSING_KEY_MESSAGE)  # a warning when validating; running needs it
    where = _run_dir_for(args, recipe)
    if isinstance(where, int):
        return where
    run_dir, resuming = where
    return _run(recipe, run_dir, resuming, quiet=args.quiet, json_events=args.json_events)


def _dry_run(recipe: Recipe) -> int:
    """Show what would run. Whatever the recipe needs that this machine lacks (an extra, a file
    the cookbook reads, the hub) is one line naming it and exit 2, never a traceback."""
    from cookbook_tui.runners.dryrun import show_dry_run

    try:
        show_dry_run(recipe, Console(highlight=False))
    except Exception as exc:  # the cookbook's builders may fail in many ways; name it, exit 2
        return _bad(f"{recipe.path or recipe.name}: dry run failed: {type(exc).__name__}: {_one_line(exc)}")
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _run(recipe: Recipe, run_dir: Path, resuming: bool, *, quiet: bool, json_events: bool) -> int:
    from cookbook_tui.runners.output import library_output_to
    from cookbook_tui.runners.progress import Reporter
    from cookbook_tui.runners.run import Runner
    from cookbook_tui.runners.rundir import LOG_FILE

    run_dir.mkdir(parents=True, exist_ok=True)
    with library_output_to(run_dir / LOG_FILE) as (out, err):
        reporter = Reporter(out, err, quiet=quiet, json_events=json_events)
        if not quiet and not json_events:
            verb = "resuming" if resuming else "run dir"
            reporter.console.print(f"{verb}: {run_dir}", markup=False)
        state = Runner(recipe, run_dir, reporter, resume=resuming).run()
    return {"finished": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(state, EXIT_FAILED)
