"""A run process SIGKILLed while it writes its run dir never leaves status.json or samples.jsonl
unreadable: the reader gets a whole status (read as failed, its process gone) and only whole,
intact sample rows."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import sigkill_after_first_round

rundir = pytest.importorskip("cookbook_tui.runners.rundir")

WRITER = Path(__file__).with_name("rundir_writer.py")


def _kill_while_writing(run_dir: Path, rng: random.Random) -> int:
    """Start a writer, SIGKILL it at a random moment after its first round; rounds it reported."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return sigkill_after_first_round(writer, "wrote", rng, max_delay=0.3)


def _assert_intact(run_dir: Path, at_least: int) -> None:
    raw_status = json.loads((run_dir / rundir.STATUS_FILE).read_text())  # whole JSON, never torn
    assert raw_status["state"] == "running"
    status = rundir.read_status(run_dir)
    assert status.state == "failed" and status.error == rundir.EXITED_WITHOUT_STATUS
    assert isinstance(status.step, int) and status.step >= at_least - 1

    rows = rundir.read_samples(run_dir)
    assert len(rows) >= at_least
    for row in rows:
        assert row["completion"] == str(row["step"] % 10) * len(row["completion"])
        assert len(row["completion"]) == 512 * 1024
    lines = (run_dir / rundir.SAMPLES_FILE).read_bytes().split(b"\n")
    # Only the last line may be torn (a kill inside an append); every other line is a whole row.
    for line in lines[:-1]:
        if line:
            json.loads(line)


def _kill_rounds(tmp_path: Path, kills: int) -> None:
    rng = random.Random(kills)
    for k in range(kills):
        run_dir = tmp_path / f"run-{k}"
        reported = _kill_while_writing(run_dir, rng)
        _assert_intact(run_dir, reported)


def test_status_and_samples_survive_sigkill_mid_write(tmp_path) -> None:
    _kill_rounds(tmp_path, kills=4)


@pytest.mark.slow
def test_status_and_samples_survive_many_sigkills_mid_write(tmp_path) -> None:
    _kill_rounds(tmp_path, kills=25)


def test_a_row_appended_after_a_torn_line_is_read(tmp_path) -> None:
    """What a kill inside an append leaves (a row without its newline), then a resumed writer."""
    rundir.append_samples(tmp_path, [rundir.sample_row(0, "heldout", "p", "whole")])
    with open(tmp_path / rundir.SAMPLES_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"step": 1, "kind": "heldout", "prompt": "p", "compl')
    rundir.append_samples(tmp_path, [rundir.sample_row(2, "heldout", "p", "after resume")])
    assert [row["step"] for row in rundir.read_samples(tmp_path)] == [0, 2]
