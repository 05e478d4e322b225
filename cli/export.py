"""`cookbook-tui export RUN_DIR… [--csv FILE] [--png DIR | --svg DIR] [--html FILE]`: a run's (or a
comparison's) metrics as CSV, its charts as images (the optional `plots` extra: matplotlib) and a
single-file HTML report."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="a run's metrics as CSV, its charts as images, an HTML report")
    export.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="one run, or several to compare")
    export.add_argument("--csv", metavar="FILE", help="metrics: one row a step, one column a metric")
    images = export.add_mutually_exclusive_group()
    images.add_argument("--png", metavar="DIR", help="one PNG a chart (needs the 'plots' extra: matplotlib)")
    images.add_argument("--svg", metavar="DIR", help="one SVG a chart (needs the 'plots' extra: matplotlib)")
    export.add_argument("--html", metavar="FILE", help="a single-file report: charts, config, final metrics, samples")
    export.set_defaults(handler=export_main)


def export_main(args: argparse.Namespace) -> int:
    from cookbook_tui.cli.tui import run_dir_problem

    def fail(message: str) -> int:
        print(f"cookbook-tui export: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if not (args.csv or args.png or args.svg or args.html):
        return fail("name at least one output: --csv FILE, --png DIR, --svg DIR or --html FILE")
    for run_dir in args.run_dirs:
        if problem := run_dir_problem(run_dir):
            return fail(problem)
    if len({Path(d).resolve() for d in args.run_dirs}) < len(args.run_dirs):
        return fail("the same run directory is named twice")
    image_dir, fmt = (args.png, "png") if args.png else (args.svg, "svg") if args.svg else (None, "")
    if image_dir is not None:
        from cookbook_tui.monitor.export_images import MissingExtra, require_matplotlib

        try:
            require_matplotlib()
        except MissingExtra as missing:
            return fail(str(missing))
    for target in (args.csv, args.html):
        if target and Path(target).is_dir():
            return fail(f"{target}: is a folder; name a file")
    if image_dir is not None and Path(image_dir).exists() and not Path(image_dir).is_dir():
        return fail(f"{image_dir}: is a file; name a folder for the images")

    from cookbook_tui.monitor.export_csv import write_csv
    from cookbook_tui.monitor.export_html import write_report
    from cookbook_tui.monitor.export_runs import load_runs

    runs = load_runs([Path(d) for d in args.run_dirs])
    try:
        if args.csv:
            print(f"wrote {write_csv(Path(args.csv), runs)}")
        if image_dir is not None:
            from cookbook_tui.monitor.export_images import write_images

            written = write_images(Path(image_dir), runs, fmt)
            print(f"wrote {len(written)} {fmt.upper()} charts in {image_dir}")
        if args.html:
            print(f"wrote {write_report(Path(args.html), runs, datetime.now(UTC))}")
    except OSError as error:
        return fail(f"{error.filename or ''}: {error.strerror or error}".lstrip(": "))
    return EXIT_OK
