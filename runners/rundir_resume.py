"""Continuing a run in its own run dir (`--resume`): where the cookbook's loop starts again, and
the run-dir files made to hold every step exactly once. Stdlib only, like `rundir`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cookbook_tui.runners import rundir


@dataclass(frozen=True)
class CheckpointPaths:
    state_path: str | None
    sampler_path: str | None


def resume_step(log_path: Path) -> int:
    """The step a resumed cookbook loop starts at: its last resumable checkpoint's step. After the
    "final" checkpoint the loop has nothing left to redo (resuming a finished run, or one killed
    just before its last status write), so every step already logged is kept."""
    row = rundir.last_checkpoint(log_path)
    if row is None:
        return 0
    step = rundir.checkpoint_step(row)
    if step is not None:
        return step
    if row.get("name") == "final":
        rows = rundir.read_metrics(log_path)
        return (rundir.steps_done(rows[-1]["step"]) if rows else None) or 0
    return 0


def prepare_resume(log_path: Path, run_dir: Path, start_step: int) -> None:
    """Drop what the interrupted run wrote at or after the step the cookbook will redo, and torn
    last lines (a kill -9 mid-write), so the continued files hold every step exactly once."""
    checkpoints = log_path / rundir.CHECKPOINTS_FILE
    if checkpoints.exists():
        # tinker-cookbook appends its rows unrepaired and reads them back strictly (json.loads per
        # line): a torn or blank line would fail the resumed loop, so only whole rows are kept.
        rundir.write_jsonl(checkpoints, rundir.read_checkpoints(log_path))
    metrics = log_path / rundir.METRICS_FILE
    if metrics.exists():
        rundir.write_jsonl(metrics, [r for r in rundir.read_metrics(log_path) if r["step"] < start_step])
    samples = run_dir / rundir.SAMPLES_FILE
    if samples.exists() and log_path == run_dir:
        rows = rundir.read_samples(run_dir)
        rundir.write_jsonl(samples, [r for r in rows if isinstance(r.get("step"), int) and r["step"] < start_step])


def named_checkpoint(log_path: Path, name: str) -> CheckpointPaths | None:
    """The state and sampler paths of the last checkpoints.jsonl row called `name`."""
    rows = [r for r in rundir.read_checkpoints(log_path) if r.get("name") == name]
    if not rows:
        return None
    return CheckpointPaths(rows[-1].get("state_path"), rows[-1].get("sampler_path"))
