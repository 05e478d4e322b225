"""Entry point for the terminal app: `cookbook-tui` and `cookbook-tui open RUN_DIR`."""

from __future__ import annotations

import sys
from pathlib import Path


def run_tui(open_run_dir: str | None = None) -> int:
    from cookbook_tui.app.cookbook_app import CookbookApp

    if open_run_dir is not None and not Path(open_run_dir).is_dir():
        print(f"cookbook-tui open: {open_run_dir}: no such run directory", file=sys.stderr)
        return 2
    CookbookApp(open_run_dir=Path(open_run_dir) if open_run_dir else None).run()
    return 0
