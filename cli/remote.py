"""`cookbook-tui remote runs|checkpoints|download|publish|unpublish|ttl|delete`: the account's
runs and checkpoints on TINKER_BASE_URL (the service by default), for people and scripts (--json)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    remote = sub.add_parser("remote", help="runs and checkpoints on the Tinker service (or TINKER_BASE_URL)")
    verbs = remote.add_subparsers(dest="remote_command", metavar="ACTION", required=True)
    runs = verbs.add_parser("runs", help="the account's training runs, joined with local run dirs")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--dir", action="append", metavar="DIR", help="local runs folder to join (default ./runs)")
    cps = verbs.add_parser("checkpoints", help="a training run's checkpoints")
    cps.add_argument("run_id")
    cps.add_argument("--json", action="store_true")
    dl = verbs.add_parser("download", help="download a checkpoint (a PEFT adapter) into DIR")
    dl.add_argument("tinker_path")
    dl.add_argument("dir")
    for name, help_text in (("publish", "make a checkpoint public"), ("unpublish", "make it private"),
                            ("delete", "delete a checkpoint")):
        verb = verbs.add_parser(name, help=help_text)
        verb.add_argument("tinker_path")
    ttl = verbs.add_parser("ttl", help="expire a checkpoint after SECONDS, or keep it forever ('forever')")
    ttl.add_argument("tinker_path")
    ttl.add_argument("seconds", help="seconds (>= 3600) or 'forever'")
    remote.set_defaults(handler=remote_main)


def remote_main(args: argparse.Namespace) -> int:
    """Run one remote command and end the process at once (see `_leave`)."""
    code = _remote(args)
    _leave(code)
    return code  # not reached


def _leave(code: int) -> None:
    # The tinker SDK's client threads keep running at interpreter shutdown; one that writes to
    # stderr then can abort the process (SIGABRT after the command had succeeded, seen in CI).
    # The command's output is complete: flush it and exit without finalising those threads.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader that went away (`| head`): nothing left to say to it
            pass
    os._exit(code)


def _remote(args: argparse.Namespace) -> int:
    from cookbook_tui.runners.remote import Remote, RemoteError, format_size

    try:
        remote = Remote()
        verb = args.remote_command
        if verb == "runs":
            runs = remote.runs([Path(d) for d in (args.dir or ["runs"])])
            if args.json:
                json.dump([r.as_dict() for r in runs], sys.stdout, indent=2)
                print()
            for r in runs if not args.json else ():
                print(f"{r.run_id}  {r.base_model}  last {r.last_request or '-'}  {r.local_run_dir or ''}")
        elif verb == "checkpoints":
            checkpoints = remote.checkpoints(args.run_id)
            if args.json:
                json.dump([c.as_dict() for c in checkpoints], sys.stdout, indent=2)
                print()
            for c in checkpoints if not args.json else ():
                public = "public" if c.public else "private"
                print(f"{c.kind:<8} {format_size(c.size_bytes):>10}  {c.created or '-'}  expires {c.expires or 'never'}  {public}  {c.tinker_path}")
        elif verb == "download":
            files = remote.download(args.tinker_path, Path(args.dir))
            print(f"{args.tinker_path} -> {args.dir} ({', '.join(f.name for f in files)})")
        elif verb in ("publish", "unpublish"):
            remote.publish(args.tinker_path, public=verb == "publish")
            print(f"{verb}ed {args.tinker_path}")
        elif verb == "delete":
            remote.delete(args.tinker_path)
            print(f"deleted {args.tinker_path}")
        elif verb == "ttl":
            if args.seconds == "forever":
                seconds = None
            elif args.seconds.isdigit():
                seconds = int(args.seconds)
            else:
                print(f"cookbook-tui remote ttl: SECONDS must be a number or 'forever', got {args.seconds!r}", file=sys.stderr)
                return EXIT_BAD_INPUT
            remote.set_ttl(args.tinker_path, seconds)
            print(f"{args.tinker_path}: " + ("kept forever" if seconds is None else f"expires in {seconds} s"))
    except RemoteError as exc:
        print(f"cookbook-tui remote: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
