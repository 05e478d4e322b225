"""kill -9 of a real headless run at random moments (a chosen step logged, or a checkpoint just
written), then `--resume`, again and again: the finished run dir holds every step exactly once,
whole checkpoint rows, checkpoints that all load in a fresh engine, and a `finished` status.
Resuming a run that had already finished keeps everything it logged; a torn last line in
checkpoints.jsonl (a kill or a full disk mid-append) neither hides whole rows nor fails --resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cookbook_tui.common.files import write_atomic
from cookbook_tui.runners import rundir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runners"))
from run_helpers import cli, reduced_recipe  # noqa: E402

pytestmark = pytest.mark.usefixtures("tiny_model_path")

WAIT_LIMIT_S = 240  # only stops a hang; a busy 2-core machine is slow, not wrong
TORN_ROW = '{"name": "000099", "batch": 99, "epoch": 0, "state_path": "tinker://x:train:0/wei'


def _start(args: list[str], output: Path) -> subprocess.Popen:
    """The runner in its own process group (as the TUI starts it), output to a file so a full
    pipe never stalls it."""
    with output.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "cookbook_tui.cli", *args, "--quiet"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_then_kill(proc: subprocess.Popen, condition, what: str, output: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) before {what}:\n{output.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and anything it started, with no warning
    proc.wait(timeout=30)


def _kill_point(run_dir: Path, total: int, rng: random.Random):
    """A random moment of the next attempt: a step past what is logged now, or the next checkpoint
    row (a kill right after the cookbook recorded it, before the step's metrics row)."""
    logged = len(rundir.read_metrics(run_dir))
    if rng.random() < 0.3:
        rows = len(rundir.read_checkpoints(run_dir))
        return (lambda: len(rundir.read_checkpoints(run_dir)) > rows), f"checkpoint row {rows + 1}"
    target = rng.randint(logged + 1, total - 3)
    return (lambda: len(rundir.read_metrics(run_dir)) > target), f"step {target}"


def _every_listed_checkpoint_loads(data_dir: Path, rows: list[dict]) -> None:
    """Each state_path loads into a new training model with its optimizer state, and each
    sampler_path into a sampler that samples, in an engine that never saw the run."""
    from tinker import types

    from cookbook_tui.engine.engine import Engine

    engine = Engine(data_dir, device="cpu", seed=0)
    for i, row in enumerate(rows):
        engine.create_model_from_state(f"reload:train:{i}", row["state_path"], with_optimizer=True)
        engine.unload_model(f"reload:train:{i}")
        engine.create_sampler(f"reload:sample:{i}", model_path=row["sampler_path"])
        response = engine.sample(
            f"reload:sample:{i}", types.ModelInput.from_ints([5, 6, 7]), 1, types.SamplingParams(max_tokens=2, seed=0)
        )
        assert response.sequences[0].tokens


def _tear_a_checkpoint_row(run_dir: Path) -> None:
    """What a kill inside the cookbook's append leaves: the start of a row, no newline."""
    with open(run_dir / rundir.CHECKPOINTS_FILE, "a", encoding="utf-8") as handle:
        handle.write(TORN_ROW)


def _sft_recipe(tmp_path: Path, total: int, save_every: int) -> Path:
    return reduced_recipe(
        "arithmetic-sft", tmp_path,
        training={"max_steps": total, "save_every": save_every, "eval_every": 0},
        samples={"every": 1000, "count": 2},
    )


def _kill_and_resume(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recipe: Path,
    *,
    total: int,
    save_every: int,
    kills: int,
    seed: int,
    tear: bool = False,
    first_kill_in_warmup: bool = False,
) -> Path:
    data_dir = tmp_path / "engine-data"
    monkeypatch.setenv("COOKBOOK_TUI_DATA_DIR", str(data_dir))  # the runners inherit it
    run_dir, output = tmp_path / "run", tmp_path / "runner-output.log"
    rng = random.Random(seed)
    args = ["--run", str(recipe), "--log-dir", str(run_dir)]
    from_checkpoint = 0  # resumes that find a checkpoint (a kill before the first one restarts at 0)
    for k in range(kills):
        if k == 0 and first_kill_in_warmup:
            warmup = run_dir / "warmup"
            condition, what = (lambda warmup=warmup: len(rundir.read_metrics(warmup)) > 2), "warmup step 2"
        else:
            condition, what = _kill_point(run_dir, total, rng)
        _wait_then_kill(_start(args, output), condition, what, output)
        assert rundir.read_status(run_dir).state == "failed"  # "running", its process gone
        assert len(rundir.read_metrics(run_dir)) < total
        from_checkpoint += rundir.last_checkpoint(run_dir) is not None
        if tear:
            _tear_a_checkpoint_row(run_dir)
        args = ["--resume", str(run_dir)]
    last = _start(args, output)
    assert last.wait(timeout=WAIT_LIMIT_S) == 0, output.read_text()[-3000:]

    status = rundir.read_status(run_dir)
    assert status.state == "finished" and status.error is None and status.step == total
    steps = [json.loads(line)["step"] for line in (run_dir / rundir.METRICS_FILE).read_text().splitlines()]
    assert steps == list(range(total))
    lines = (run_dir / rundir.CHECKPOINTS_FILE).read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line whole JSON
    assert {r["name"] for r in rows} == {f"{s:06d}" for s in range(save_every, total, save_every)} | {"final"}
    assert rows[-1]["name"] == "final"
    _every_listed_checkpoint_loads(data_dir, rows)
    log = (run_dir / rundir.LOG_FILE).read_text()
    assert log.count("Resumed training from") == from_checkpoint
    return run_dir


def test_one_kill_at_a_random_step_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = _sft_recipe(tmp_path, total=14, save_every=3)
    run_dir = _kill_and_resume(tmp_path, monkeypatch, recipe, total=14, save_every=3, kills=1, seed=5, tear=True)

    # Resuming the finished run (what a kill after the final checkpoint, before the last status
    # write, also leaves): the cookbook has nothing left to do, and nothing logged is dropped.
    metrics, samples = (run_dir / rundir.METRICS_FILE).read_text(), rundir.read_samples(run_dir)
    assert samples  # the held-out samples of step 0
    again = cli("--resume", str(run_dir), "--quiet")
    assert again.returncode == 0, again.stderr[-3000:]
    assert rundir.read_status(run_dir).state == "finished"
    assert (run_dir / rundir.METRICS_FILE).read_text() == metrics
    assert rundir.read_samples(run_dir) == samples
    assert "Training was already complete" in (run_dir / rundir.LOG_FILE).read_text()


@pytest.mark.slow
def test_many_kills_at_random_steps_then_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = _sft_recipe(tmp_path, total=40, save_every=4)
    _kill_and_resume(tmp_path, monkeypatch, recipe, total=40, save_every=4, kills=4, seed=4)


@pytest.mark.slow
def test_rl_with_warmup_killed_in_both_stages_then_resumed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The RL recipe's SFT warmup stage is killed first, then the RL stage at random steps; the
    warmup stage resumes too, and its metrics also hold every step once."""
    recipe = reduced_recipe(
        "arithmetic-rl", tmp_path,
        warmup={"steps": 8},
        env={"num_batches": 16},
        rollouts={"group_size": 4, "groups_per_batch": 2},
        training={"max_steps": 16, "save_every": 3},
    )
    run_dir = _kill_and_resume(
        tmp_path, monkeypatch, recipe, total=16, save_every=3, kills=3, seed=3, first_kill_in_warmup=True
    )
    assert [r["step"] for r in rundir.read_metrics(run_dir / "warmup")] == list(range(8))
    assert rundir.read_checkpoints(run_dir / "warmup")[-1]["name"] == "final"
    rollout_steps = {r["step"] for r in rundir.read_samples(run_dir) if r["kind"] == "rollout"}
    assert rollout_steps == set(range(16))


def test_a_torn_last_checkpoint_row_is_skipped_and_repaired_before_the_cookbook_reads(tmp_path: Path) -> None:
    from tinker_cookbook import checkpoint_utils

    from cookbook_tui.runners.rundir_resume import prepare_resume, resume_step

    whole = [
        {"name": f"{s:06d}", "batch": s, "epoch": 0, "state_path": f"tinker://m:train:0/weights/{s:06d}",
         "sampler_path": f"tinker://m:train:0/sampler_weights/{s:06d}"}
        for s in (3, 6)
    ]
    path = tmp_path / rundir.CHECKPOINTS_FILE
    path.write_text("".join(json.dumps(r) + "\n" for r in whole) + "\n" + TORN_ROW)
    write_atomic(tmp_path / rundir.METRICS_FILE, "".join(json.dumps({"step": s}) + "\n" for s in range(8)))

    assert rundir.read_checkpoints(tmp_path) == whole
    assert rundir.last_checkpoint(tmp_path)["name"] == "000006"
    assert resume_step(tmp_path) == 6
    with pytest.raises(json.JSONDecodeError):  # the cookbook's own reader, as the resumed loop calls it
        checkpoint_utils.get_last_checkpoint(str(tmp_path))

    prepare_resume(tmp_path, tmp_path, 6)
    assert path.read_text() == "".join(json.dumps(r) + "\n" for r in whole)
    assert checkpoint_utils.get_last_checkpoint(str(tmp_path)).to_dict() == whole[-1]
    assert [r["step"] for r in rundir.read_metrics(tmp_path)] == list(range(6))
