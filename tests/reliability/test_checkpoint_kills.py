"""A process SIGKILLed while it writes checkpoints never leaves one corrupt: a new Engine on the
same data dir lists only complete checkpoints, and every one it lists loads (training ones with
their optimizer state, sampler ones into a sampler that samples)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import sigkill_after_first_round

WRITER = Path(__file__).with_name("checkpoint_writer.py")
MODEL_ID = "killtest:train:0"
START_TIMEOUT = 120  # seconds for the writer to import torch and save once, on a busy machine


def _start_writer(data_dir: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(data_dir), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _kill_while_saving(data_dir: Path, rng: random.Random) -> int:
    """Start a writer, let it save at least once, SIGKILL it at a random moment; the rounds it
    reported finished."""
    writer = _start_writer(data_dir, "loop")
    return sigkill_after_first_round(writer, "saved", rng, max_delay=0.4)


def _assert_every_listed_checkpoint_loads(data_dir: Path) -> list[str]:
    from tinker import types

    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME
    from cookbook_tui.engine.engine import Engine

    engine = Engine(data_dir, device="cpu", seed=0)
    listed = engine.list_checkpoints(MODEL_ID)
    engine.create_model("reader:train:0", TINY_MODEL_NAME, types.LoraConfig(rank=64))
    for i, checkpoint in enumerate(listed):
        if checkpoint.checkpoint_type == "training":
            engine.load_state("reader:train:0", checkpoint.tinker_path, with_optimizer=True)
        else:
            engine.create_sampler(f"reader:sample:{i}", model_path=checkpoint.tinker_path)
            response = engine.sample(
                f"reader:sample:{i}", types.ModelInput.from_ints([5, 6]), 1, types.SamplingParams(max_tokens=2, seed=0)
            )
            assert len(response.sequences[0].tokens) >= 1
    # Nothing half-written is visible, and what interrupted writes left behind is gone.
    runs = data_dir / "runs"
    assert not [p for p in runs.glob("*/*weights/.*")], "leftover temporary checkpoint folders"
    return [c.checkpoint_id for c in listed]


def _kill_rounds(tmp_path: Path, kills: int) -> None:
    rng = random.Random(kills)
    data_dir = tmp_path / "data"
    reported = []
    for _ in range(kills):
        reported.append(_kill_while_saving(data_dir, rng))
    ids = _assert_every_listed_checkpoint_loads(data_dir)
    # Every round a writer reported finished is listed (it was written before the report).
    assert "weights/latest" in ids
    training = [i for i in ids if i.startswith("weights/p")]
    sampler = [i for i in ids if i.startswith("sampler_weights/s")]
    assert len(training) >= sum(reported) and len(sampler) >= sum(reported)


def test_checkpoints_survive_sigkill_mid_write(tiny_model_path, tmp_path) -> None:
    _kill_rounds(tmp_path, kills=2)


@pytest.mark.slow
def test_checkpoints_survive_many_sigkills_mid_write(tiny_model_path, tmp_path) -> None:
    _kill_rounds(tmp_path, kills=10)


def test_a_kill_between_the_renames_of_an_overwrite_keeps_the_old_checkpoint(tiny_model_path, tmp_path) -> None:
    """Overwriting a name moves the old folder aside, then renames the new one in: a kill
    between the two must not lose the name."""
    writer = _start_writer(tmp_path, "die-mid-overwrite")
    _, err = writer.communicate(timeout=START_TIMEOUT)
    assert writer.returncode == -signal.SIGKILL, err
    assert [p.name for p in (tmp_path / "runs").glob("*/weights/.latest.old-*")], "the kill came too early"

    ids = _assert_every_listed_checkpoint_loads(tmp_path)
    assert ids == ["weights/latest"]


def test_an_overwrite_that_fails_in_process_keeps_the_old_checkpoint(tiny_model_path, tmp_path, monkeypatch) -> None:
    from tinker import types

    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME
    from cookbook_tui.engine import checkpoints
    from cookbook_tui.engine.engine import Engine

    engine = Engine(tmp_path, device="cpu", seed=0)
    engine.create_model("m:train:0", TINY_MODEL_NAME, types.LoraConfig(rank=2))
    path = engine.save_state("m:train:0", "latest")
    before = (engine.store.existing_checkpoint_dir(path) / checkpoints.ADAPTER_FILE).read_bytes()
    real_rename = os.rename

    def fail_after_moving_aside(src, dst):
        if ".tmp-" in str(src):
            raise OSError("disk full")
        real_rename(src, dst)

    monkeypatch.setattr(checkpoints.os, "rename", fail_after_moving_aside)
    with pytest.raises(OSError, match="disk full"):
        engine.save_state("m:train:0", "latest")
    monkeypatch.undo()
    assert [c.checkpoint_id for c in engine.list_checkpoints("m:train:0")] == ["weights/latest"]
    assert (engine.store.existing_checkpoint_dir(path) / checkpoints.ADAPTER_FILE).read_bytes() == before
