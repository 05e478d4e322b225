"""Starting and stopping runner processes; the app owns each one through a thread worker.

A run is its own process in its own session (start_new_session=True), so a crash or kill of the
run never reaches the UI, quitting the UI can leave it running, and stopping it signals its whole
process group (the runner and anything it started).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROCESS_LOGS = ".process-logs"


def run_command(python: str, recipe: Path, log_dir: Path) -> list[str]:
    return [python, "-m", "cookbook_tui.cli", "--run", str(recipe), "--log-dir", str(log_dir), "--quiet"]


def resume_command(python: str, run_dir: Path) -> list[str]:
    return [python, "-m", "cookbook_tui.cli", "--resume", str(run_dir), "--quiet"]


def dry_run_command(python: str, recipe: Path) -> list[str]:
    return [python, "-m", "cookbook_tui.cli", "--run", str(recipe), "--dry-run"]


@dataclass
class RunProcess:
    run_dir: Path
    popen: subprocess.Popen[bytes]
    output_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output_tail(self, limit: int = 4000) -> str:
        try:
            data = self.output_path.read_bytes()[-limit:]
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace")


def start_run_process(command: list[str], run_dir: Path, runs_dir: Path, env: dict[str, str] | None = None) -> RunProcess:
    """Start the runner; its stdout/stderr go to a file outside the run dir so that it lives on
    after the UI quits (a pipe would break when the UI goes) and shows why a run died early."""
    logs = runs_dir / PROCESS_LOGS
    logs.mkdir(parents=True, exist_ok=True)
    output_path = logs / (f"{run_dir.parent.name}-{run_dir.name}.log")
    with output_path.open("wb") as output:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    return RunProcess(run_dir=run_dir, popen=popen, output_path=output_path)


def stop_process(pid: int) -> bool:
    """SIGTERM the run: its whole process group when it leads one (runs the app started do),
    else just the pid (a run started from a shell shares the shell's group). False if gone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True
