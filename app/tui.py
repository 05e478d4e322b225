"""Entry point for the terminal app: `cookbook-tui`, `cookbook-tui open RUN_DIR` and
`cookbook-tui compare RUN_DIR RUN_DIR …`."""

from __future__ import annotations

import sys
from pathlib import Path


def compare_problem(run_dirs: list[str]) -> str | None:
    """Why these run dirs cannot be compared, in words that name the bad one; None if they can."""
    from cookbook_tui.app.rundir_view import is_run_dir
    from cookbook_tui.app.run_compare import MAX_RUNS

    if not 2 <= len(run_dirs) <= MAX_RUNS:
        return f"compare takes 2 to {MAX_RUNS} run directories, got {len(run_dirs)}"
    for run_dir in run_dirs:
        if not Path(run_dir).is_dir():
            return f"{run_dir}: no such run directory"
        if not is_run_dir(Path(run_dir)):
            return f"{run_dir}: not a run directory (no status.json, metrics.jsonl, checkpoints.jsonl or config.json)"
    if len({Path(d).resolve() for d in run_dirs}) < len(run_dirs):
        return "the same run directory is named twice"
    return None


def run_tui(open_run_dir: str | None = None, compare_run_dirs: list[str] | None = None) -> int:
    from cookbook_tui.app.cookbook_app import CookbookApp

    if compare_run_dirs is not None:
        problem = compare_problem(compare_run_dirs)
        if problem:
            print(f"cookbook-tui compare: {problem}", file=sys.stderr)
            return 2
        CookbookApp(compare_run_dirs=[Path(d) for d in compare_run_dirs]).run()
        return 0
    if open_run_dir is not None and not Path(open_run_dir).is_dir():
        print(f"cookbook-tui open: {open_run_dir}: no such run directory", file=sys.stderr)
        return 2
    CookbookApp(open_run_dir=Path(open_run_dir) if open_run_dir else None).run()
    return 0
