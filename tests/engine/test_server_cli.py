"""`cookbook-tui serve` prints how to reach it and refuses exposed binds without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from server_helpers import wait_healthy


def _serve(*args: str, data_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cookbook_tui.cli", "serve", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_serve_prints_the_env_lines_and_answers_there(tmp_path: Path) -> None:
    proc = _serve("--port", "0", data_dir=tmp_path)
    try:
        lines: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:  # ends if the process dies: then the asserts below fail
            if "=" in line and line.split("=", 1)[0] in ("TINKER_BASE_URL", "TINKER_API_KEY"):
                key, value = line.strip().split("=", 1)
                lines[key] = value
            if len(lines) == 2:
                break
        assert lines["TINKER_BASE_URL"].startswith("http://127.0.0.1:")
        assert lines["TINKER_API_KEY"].startswith("tml-")
        wait_healthy(lines["TINKER_BASE_URL"], lines["TINKER_API_KEY"])
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--host", "0.0.0.0"), "--api-key"),
        (("--api-key", "secret"), "tml-"),
        (("--session-timeout", "0"), "--session-timeout must be > 0"),
    ],
)
def test_serve_refuses_exposed_hosts_without_a_key_and_bad_keys(tmp_path: Path, args, needle) -> None:
    proc = _serve(*args, data_dir=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert needle in err
    assert "Traceback" not in err


def test_serve_with_parent_pid_exits_when_its_parent_dies(tmp_path: Path) -> None:
    """The TUI's chat engine must not outlive a TUI that was killed."""
    import time

    launcher = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'cookbook_tui.cli', 'serve', '--port', '0',"
        f" '--data-dir', {str(tmp_path)!r}, '--parent-pid', str(os.getpid())],"
        " stdout=subprocess.PIPE, text=True)\n"
        "print(p.pid, flush=True)\n"
        "for line in p.stdout:\n"
        "    if line.startswith('TINKER_API_KEY='):\n"
        "        break\n"
        "os._exit(0)\n"  # the parent dies; the child is reparented
    )
    done = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True, timeout=120)
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(child, 9)
    pytest.fail("serve --parent-pid kept running after its parent exited")
