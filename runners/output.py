"""Keep library noise off the terminal: during a run, everything written to stdout/stderr (Python
prints, warnings, progress bars, C-level writes to fds 1 and 2) goes to the run's logs.log, and the
headless display writes to a private copy of the real terminal."""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

# tinker-cookbook's logging setup adds a coloured console handler next to its logs.log file handler;
# its lines would land in logs.log twice, so the coloured copies are dropped.
_COLOURED_LOG_LINE = re.compile(r"^\S+:\d+ \[\x1b\[\d+m(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\x1b\[0m\] ")


class LogSink(io.TextIOBase):
    """A text stream appending whole lines to a file, minus the cookbook's coloured log copies."""

    def __init__(self, handle: TextIO):
        self._handle = handle
        self._pending = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                if not _COLOURED_LOG_LINE.match(line):
                    self._handle.write(line + "\n")
            self._handle.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._handle.flush()


@contextmanager
def library_output_to(log_path: Path) -> Iterator[tuple[TextIO, TextIO]]:
    """Redirect fds 1/2 and sys.stdout/sys.stderr to `log_path`; yield (terminal out, terminal err)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    handle = open(log_path, "a", encoding="utf-8")
    terminal_out = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8")
    terminal_err = os.fdopen(os.dup(saved_err), "w", buffering=1, encoding="utf-8")
    old_stdout, old_stderr = sys.stdout, sys.stderr
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    sink = LogSink(handle)
    sys.stdout = sys.stderr = sink
    try:
        yield terminal_out, terminal_err
    finally:
        sink.flush()
        sys.stdout, sys.stderr = old_stdout, old_stderr
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for fd in (saved_out, saved_err, log_fd):
            os.close(fd)
        handle.close()
        terminal_out.close()
        terminal_err.close()
