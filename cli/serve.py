"""`cookbook-tui serve`: the local engine, a product of its own, for any Tinker script."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
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
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    # The CLI hands this whole process to the engine: no TUI runs here.
    from cookbook_tui.engine.serve_cli import serve_main

    return serve_main(args)
