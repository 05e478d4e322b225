"""The `cookbook-tui` command line: one parser, and each command's work imported only when used.

Start-up must stay fast, so nothing heavy (torch, transformers, tinker, textual) is imported at
module level here or in the command modules: each handler imports its own implementation.
Each command group is a module of this package with `add_parsers(sub)`, which gives every
subcommand it adds a `handler` (`set_defaults(handler=…)`); `COMMAND_MODULES` lists them in help order.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

COMMAND_MODULES = (
    "cookbook_tui.cli.recipe_commands",
    "cookbook_tui.cli.serve",
    "cookbook_tui.cli.runs",
    "cookbook_tui.cli.export",
    "cookbook_tui.cli.remote",
    "cookbook_tui.cli.tui",
)


def package_version() -> str:
    try:
        return version("cookbook-tui")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cookbook-tui",
        description=(
            "LLM post-training recipes over tinker-cookbook, on the Tinker service or the local "
            "Tinker-compatible engine. With no arguments, opens the terminal app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"cookbook-tui {package_version()}")
    run_group = parser.add_argument_group("headless run (cookbook-tui --run recipe.toml)")
    run_group.add_argument("--run", metavar="RECIPE", help="run a recipe headless, with a progress bar")
    run_group.add_argument("--dry-run", action="store_true", help="validate, resolve and render one example; train nothing")
    run_group.add_argument("--log-dir", metavar="DIR", help="run directory (default ./runs/<recipe>/<timestamp>)")
    run_group.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    run_group.add_argument("--backend", choices=["local", "tinker"], help="override the recipe's backend")
    run_group.add_argument("--quiet", action="store_true", help="no progress bar or step lines")
    run_group.add_argument("--json-events", action="store_true", help="one JSON event per line on stdout")

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except BrokenPipeError:
        # The reader went away (`cookbook-tui schema | head`): stop quietly, as Unix tools do,
        # and keep Python from failing again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args))
    if args.run or (args.resume and not args.run):
        from cookbook_tui.runners.headless import run_main

        return run_main(args)
    if args.dry_run or args.log_dir:
        parser.error("--dry-run and --log-dir need --run RECIPE")

    from cookbook_tui.cli.tui import run_tui

    return run_tui()


if __name__ == "__main__":
    sys.exit(main())
