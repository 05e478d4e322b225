"""`cookbook-tui serve`: the local engine for any Tinker script, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import check_bind, resolve_data_dir, start_local_server


def serve_main(args: argparse.Namespace) -> int:
    host: str = args.host
    api_key: str | None = args.api_key
    try:
        check_bind(host, api_key)
    except ValueError as exc:
        print(f"cookbook-tui serve: {exc}", file=sys.stderr)
        return 2
    session_timeout = getattr(args, "session_timeout", None)
    if session_timeout is not None and not session_timeout > 0:
        print(f"cookbook-tui serve: --session-timeout must be > 0 seconds, got {session_timeout}", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"cookbook-tui serve: --port must be 0-65535, got {args.port}", file=sys.stderr)
        return 2

    data_dir = resolve_data_dir(args.data_dir)
    try:
        # Alone in its process, the engine may use every core for torch.
        server = start_local_server(
            data_dir=data_dir,
            host=host,
            port=args.port,
            api_key=api_key,
            torch_threads=None,
            session_timeout_seconds=session_timeout,
        )
    except OSError as exc:
        print(f"cookbook-tui serve: cannot listen on {host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"cookbook-tui local engine listening on {server.base_url} (data dir {data_dir})")
    print("Point any tinker client at it with:")
    print(f"TINKER_BASE_URL={server.base_url}")
    print(f"TINKER_API_KEY={server.api_key}")
    sys.stdout.flush()
    parent_pid = getattr(args, "parent_pid", None)
    try:
        while not stop.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the process that started us (the TUI) is gone
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
