"""`cookbook-tui --run` in a real terminal (a pseudo-terminal here): rich only draws its live bar
and redirects output when it sees a terminal, so captured pipes cannot show this."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time
from pathlib import Path

from run_helpers import reduced_recipe

TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|(\r)|(\n)|([^\x1b\r\n]+)|\x1b")


def screen_lines(shown: str) -> list[str]:
    """The lines a terminal is left showing (scrolled-off ones included): text overwrites at the
    cursor, \\r, \\n, cursor up (ESC[nA) and erase line (ESC[2K) move and clear; colours are dropped.
    Enough of a terminal for rich's live display, which redraws itself in place this way."""
    lines, row, col = [""], 0, 0
    for match in TOKEN.finditer(shown):
        params, command, cr, lf, text = match.groups()
        if text:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + text + line[col + len(text):]
            col += len(text)
        elif cr:
            col = 0
        elif lf:
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif command == "A":
            row = max(0, row - int(params or 1))
        elif command == "K" and params == "2":
            lines[row] = ""
    return [line.rstrip() for line in lines if line.strip()]


def run_in_terminal(args: list[str], cwd: Path, timeout: float = 240) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout/stderr; (exit code, everything it showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, in the terminal
        os.chdir(cwd)
        os.environ["COLUMNS"], os.environ["LINES"] = "120", "40"
        os.execv(sys.executable, [sys.executable, "-m", "cookbook_tui.cli", *args])
    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", errors="replace")


def test_a_headless_run_in_a_terminal_shows_one_progress_bar_not_library_output(tmp_path: Path, tiny_model_path: Path) -> None:
    recipe = reduced_recipe("arithmetic-sft", tmp_path, training={"max_steps": 12, "save_every": 6, "eval_every": 6},
                            samples={"every": 6})
    code, shown = run_in_terminal(["--run", str(recipe), "--log-dir", str(tmp_path / "run")], tmp_path)
    lines = screen_lines(shown)
    text = "\n".join(lines)
    assert code == 0, text[-3000:]
    assert "ml_log" not in text and "[INFO]" not in text and "Metric" not in text, text[-3000:]
    # the run dir line, the bar's final frame and its metrics line, the finish line: the bar is
    # redrawn in place, so its frames add no lines
    assert len(lines) <= 6, "\n".join(lines)
    assert "12/12" in lines[-3] and "step/s" in lines[-3] and "eta" in lines[-3], lines[-3]
    assert "train_mean_nll" in lines[-2], lines[-2]
    assert lines[-1].startswith("finished:")
    log = (tmp_path / "run" / "logs.log").read_text()
    assert "Step 11" in log  # the library output went to the run's log instead
