"""The `cookbook-tui` command line: one parser, and each command's work imported only when used.

Start-up must stay fast, so nothing heavy (torch, transformers, tinker, textual) is imported at
module level here: each branch imports its own implementation.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version


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
    validate = sub.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe", help="path to a recipe TOML file")
    schema = sub.add_parser("schema", help="print the recipe format as a JSON Schema (for Taplo and other TOML editors)")
    schema.add_argument("--markdown", action="store_true", help="the README's key reference instead")

    serve = sub.add_parser("serve", help="run the local Tinker-compatible engine for any Tinker script")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--data-dir", help="where checkpoints live (default: the user data dir)")
    serve.add_argument("--api-key", help="required for any address but loopback; clients send it as TINKER_API_KEY")
    serve.add_argument(
        "--session-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a client whose heartbeats stop this long is gone and its queued work dropped (default 60)",
    )
    # The TUI's chat engine: exit when the app that started it is gone.
    serve.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)

    runs = sub.add_parser("runs", help="list the local runs (state, steps, headline metric, alarms)")
    runs.add_argument("--dir", action="append", metavar="DIR", help="a folder of runs (default ./runs; repeatable)")
    runs.add_argument("--json", action="store_true", help="JSON for scripts")

    from cookbook_tui.runners.remote_cli import add_remote_parser  # argparse only: light

    add_remote_parser(sub)


    edit = sub.add_parser("edit", help="open a recipe file in the app's editor")
    edit.add_argument("recipe", help="path to a recipe TOML file")

    open_cmd = sub.add_parser("open", help="open a run directory in the app")
    open_cmd.add_argument("run_dir", help="a run directory written by cookbook-tui or tinker-cookbook")

    compare = sub.add_parser("compare", help="compare 2-8 run directories in the app")
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (ours or tinker-cookbook's)")
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

    if args.command == "serve":
        from cookbook_tui.runners.engine.serve_cli import serve_main

        return serve_main(args)
    if args.command == "remote":
        from cookbook_tui.runners.remote_cli import remote_main

        return remote_main(args)
    if args.command == "runs":
        from cookbook_tui.runners.runs_cli import runs_main

        return runs_main(args)
    if args.command == "schema":
        from cookbook_tui.recipes.reference import main as schema_main

        return schema_main(["--markdown"] if args.markdown else [])
    if args.command == "validate":
        from cookbook_tui.runners.headless import validate_main

        return validate_main(args)
    if args.run:
        from cookbook_tui.runners.headless import run_main

        return run_main(args)
    if args.dry_run or args.resume or args.log_dir:
        if args.resume and not args.run:
            from cookbook_tui.runners.headless import run_main

            return run_main(args)
        parser.error("--dry-run and --log-dir need --run RECIPE")

    from cookbook_tui.app.tui import run_tui

    if args.command == "compare":
        return run_tui(compare_run_dirs=args.run_dirs)
    return run_tui(
        open_run_dir=getattr(args, "run_dir", None), edit_recipe=args.recipe if args.command == "edit" else None
    )


if __name__ == "__main__":
    sys.exit(main())
