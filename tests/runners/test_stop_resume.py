"""Stopping and resuming a real run: SIGTERM cancels cleanly; after kill -9, --resume finishes and
metrics.jsonl holds every step exactly once."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
from run_helpers import cli, reduced_recipe, start_cli

from cookbook_tui.recipes.paths import DATA_DIR
from cookbook_tui.runners import rundir

pytestmark = pytest.mark.usefixtures("tiny_model_path")


def _wait_for(condition, proc, what: str, limit: float = 240) -> None:
    """Poll the run dir until `condition()`; fail with the process's output if it ends first."""
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"run ended before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def test_sigterm_cancels_and_keeps_files_intact(tmp_path: Path) -> None:
    recipe = reduced_recipe("arithmetic-sft", tmp_path, training={"max_steps": 300, "eval_every": 0})
    run_dir = tmp_path / "run"
    proc = start_cli("--run", str(recipe), "--log-dir", str(run_dir), "--quiet")
    _wait_for(lambda: len(rundir.read_metrics(run_dir)) >= 5, proc, "5 steps")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 130
    status = rundir.read_status(run_dir)
    assert status.state == "cancelled" and status.ended_at and status.step >= 5
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(len(lines)))
    assert "--resume" in proc.stderr.read()


def test_resume_after_kill_9_finishes_with_every_step_once(tmp_path: Path) -> None:
    # A data path relative to the recipe: the resumed run reads the run dir's copy of the recipe
    # and must still find it.
    (tmp_path / "data").mkdir()
    shutil.copy(DATA_DIR / "arithmetic_chat.jsonl", tmp_path / "data" / "chat.jsonl")
    recipe = reduced_recipe(
        "arithmetic-sft", tmp_path,
        dataset={"path": "data/chat.jsonl"},
        training={"max_steps": 45, "save_every": 10, "eval_every": 0},
        samples={"every": 10, "count": 2},
    )
    run_dir = tmp_path / "run"
    proc = start_cli("--run", str(recipe), "--log-dir", str(run_dir), "--quiet")

    def past_a_checkpoint() -> bool:
        ckpt = rundir.last_checkpoint(run_dir)
        step = rundir.checkpoint_step(ckpt) if ckpt else None
        # Some steps after the checkpoint are logged: the resumed run must redo them, not repeat them.
        return step is not None and step >= 20 and len(rundir.read_metrics(run_dir)) >= step + 3

    _wait_for(past_a_checkpoint, proc, "a checkpoint at step 20 or later")
    proc.kill()
    proc.wait(timeout=30)
    killed_at = len(rundir.read_metrics(run_dir))
    assert killed_at < 45
    assert rundir.read_status(run_dir).state == "failed"  # running, but its process is gone

    out = cli("--resume", str(run_dir), "--quiet")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert rundir.read_status(run_dir).state == "finished"
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(45))
    sample_keys = [(r["step"], r["prompt"]) for r in rundir.read_samples(run_dir)]
    assert len(sample_keys) == len(set(sample_keys))
    assert {s for s, _ in sample_keys} == {0, 10, 20, 30, 40}
    assert rundir.last_checkpoint(run_dir)["name"] == "final"
    assert "Resumed training from" in (run_dir / "logs.log").read_text()
