"""`cookbook-tui runs [--dir DIR …] [--json]`: the local runs, a line each, or JSON for scripts."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cookbook_tui.runners.runs_index import RunSummary

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list the local runs (state, steps, headline metric, alarms)")
    runs.add_argument("--dir", action="append", metavar="DIR", help="a folder of runs (default ./runs; repeatable)")
    runs.add_argument("--json", action="store_true", help="JSON for scripts")
    runs.set_defaults(handler=runs_main)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _line(run: RunSummary) -> str:
    steps = f"{run.steps}/{run.total_steps}" if run.total_steps else str(run.steps)
    headline = f"{run.headline} {_fmt(run.headline_value)}" if run.headline else "-"
    cost = f"  ${run.cost_usd:.2f}" if run.cost_usd is not None else ""
    alerts = f"  ! {'; '.join(a['kind'] for a in run.alerts)}" if run.alerts else ""
    return f"{run.state:<9} {steps:>9}  {run.recipe or '-'}  {headline}{cost}{alerts}  {run.run_dir}"


def runs_main(args: argparse.Namespace) -> int:
    from cookbook_tui.runners.alarms import load_thresholds
    from cookbook_tui.runners.runs_index import list_runs

    roots = [Path(d) for d in (args.dir or [])] or [Path("runs")]
    missing = [str(r) for r in roots if args.dir and not r.is_dir()]
    if missing:
        print(f"cookbook-tui runs: no such folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        thresholds = load_thresholds()
    except ValueError as exc:
        print(f"cookbook-tui runs: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    runs = list_runs(roots, thresholds)
    try:
        _print(runs, roots, as_json=args.json)
    except BrokenPipeError:  # `cookbook-tui runs | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OK


def _print(runs: list[RunSummary], roots: list[Path], *, as_json: bool) -> None:
    if as_json:
        json.dump([r.as_dict() for r in runs], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not runs:
        print(f"no runs under {', '.join(str(r) for r in roots)}")
    else:
        for run in runs:
            print(_line(run))
    sys.stdout.flush()
