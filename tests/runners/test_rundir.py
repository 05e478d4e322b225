"""rundir: the run-dir files both the runner and the TUI rely on."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cookbook_tui.common.files import write_atomic
from cookbook_tui.runners import rundir


def test_status_lifecycle_is_written_atomically(tmp_path: Path) -> None:
    writer = rundir.StatusWriter(tmp_path)
    writer.start(recipe="r", workflow="sl", backend="local", model="m")
    status = rundir.read_status(tmp_path)
    assert status.state == "running" and status.pid == os.getpid() and status.ended_at is None
    writer.update(step=3, total_steps=10)
    writer.finish("failed", "ValueError: boom")
    status = rundir.read_status(tmp_path)
    assert (status.state, status.step, status.error) == ("failed", 3, "ValueError: boom")
    assert status.started_at <= status.ended_at
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp files left


def test_running_status_of_a_dead_process_reads_as_failed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    rundir.write_status(tmp_path, {"state": "running", "pid": child.pid, "error": None})
    status = rundir.read_status(tmp_path)
    assert status.state == "failed" and status.error == rundir.EXITED_WITHOUT_STATUS


def test_missing_or_garbled_status_reads_as_unknown(tmp_path: Path) -> None:
    assert rundir.read_status(tmp_path).state == "unknown"
    (tmp_path / "status.json").write_text("{not json")
    assert rundir.read_status(tmp_path).state == "unknown" and rundir.read_status(tmp_path).pid is None


def test_the_one_dead_pid_rule_with_a_replaceable_pid_check(tmp_path: Path) -> None:
    """One read_status for the runner, `runs`, and the TUI; the pid check is a parameter."""
    (tmp_path / "status.json").write_text(json.dumps({"state": "running", "pid": 4242, "step": 3}))
    alive = rundir.read_status(tmp_path, pid_alive=lambda pid: True)
    assert (alive.state, alive.is_active, alive.error) == ("running", True, None)
    gone = rundir.read_status(tmp_path, pid_alive=lambda pid: False)
    assert (gone.state, gone.is_active, gone.error) == ("failed", False, rundir.EXITED_WITHOUT_STATUS)
    assert gone.step == 3
    (tmp_path / "status.json").write_text(json.dumps({"state": "finished", "pid": 4242}))
    assert rundir.read_status(tmp_path, pid_alive=lambda pid: False).state == "finished"  # only running is checked


def test_a_killed_run_ended_when_it_last_wrote(tmp_path: Path) -> None:
    """kill -9 leaves `running` and no ended_at: the run ended at its last write, so its duration
    stops growing."""
    (tmp_path / "status.json").write_text(
        json.dumps({"state": "running", "pid": 4242, "started_at": "2026-11-28T10:00:00+00:00"})
    )
    (tmp_path / "metrics.jsonl").write_text('{"step": 0}\n')
    last_write = datetime(2026, 11, 28, 10, 5, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "status.json", (last_write - 60, last_write - 60))
    os.utime(tmp_path / "metrics.jsonl", (last_write, last_write))
    gone = rundir.read_status(tmp_path, pid_alive=lambda pid: False)
    assert gone.ended_at == datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    assert rundir.read_status(tmp_path, pid_alive=lambda pid: True).ended_at is None


def test_status_writer_writes_every_field_run_status_reads(tmp_path: Path) -> None:
    writer = rundir.StatusWriter(tmp_path)
    writer.start(recipe="r", workflow="rl", backend="local", model="m", recipe_dir="/recipes")
    writer.update(step=4, total_steps=8)
    raw = json.loads((tmp_path / "status.json").read_text())
    assert set(raw) == {f.name for f in dataclasses.fields(rundir.RunStatus)}
    assert rundir.read_status(tmp_path) == writer.status
    assert rundir.recipe_base_dir(tmp_path) == Path("/recipes")
    with pytest.raises(TypeError):  # a field RunStatus does not declare is refused, not written
        writer.update(stage="warmup")


def test_architecture_md_lists_the_status_fields_run_status_declares() -> None:
    text = (Path(__file__).resolve().parents[2] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = text[text.index("- `status.json` (atomic replace"):]
    listed = listed[listed.index("{"):listed.index("}")]
    assert re.findall(r'"(\w+)"(?!\|)', listed.replace('"running"|"finished"|"failed"|"cancelled"', "")) == [
        f.name for f in dataclasses.fields(rundir.RunStatus)]


def test_a_wrongly_typed_status_field_reads_as_absent(tmp_path: Path) -> None:
    (tmp_path / "status.json").write_text(json.dumps(
        {"state": "finished", "pid": "12", "step": True, "started_at": "yesterday", "error": "", "extra": 1}))
    status = rundir.read_status(tmp_path)
    assert status == rundir.RunStatus(state="finished")


def test_a_run_dir_tinker_cookbook_wrote_alone(tmp_path: Path) -> None:
    """No status.json: only checkpoints.jsonl at first (it counts as a run dir), then metrics;
    finished once the final checkpoint is there. `runs` and the TUI read it the same way."""
    from cookbook_tui.runners.runs_index import summarize

    run = tmp_path / "sl-basic"
    run.mkdir()
    assert not rundir.is_run_dir(run)
    (run / "checkpoints.jsonl").write_text(json.dumps({"name": "000002", "batch": 2, "state_path": "tinker://a"}) + "\n")
    assert rundir.is_run_dir(run) and rundir.find_run_dirs([tmp_path]) == [run]
    assert not rundir.is_run_dir(run / "checkpoints.jsonl")  # a file is not a run dir
    (run / "config.json").write_text(json.dumps({"model_name": "meta-llama/Llama-3.2-1B"}))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "train_mean_nll": 1.0}) + "\n" for s in range(5)))
    status = rundir.read_status(run)
    assert (status.state, status.step, status.model, status.pid) == ("unknown", 5, "meta-llama/Llama-3.2-1B", None)
    summary = summarize(run)
    assert (summary.state, summary.steps, summary.model) == ("unknown", 5, "meta-llama/Llama-3.2-1B")
    rundir.append_jsonl(run / "checkpoints.jsonl", [{"name": "final", "batch": 5, "final": True}])
    assert rundir.read_status(run).state == summarize(run).state == "finished"


def test_steps_done_counts_rows_numbered_from_zero() -> None:
    assert [rundir.steps_done(s) for s in (0, 9, None, True, "3", 2.0)] == [1, 10, None, None, None, None]


def test_dedupe_keeps_the_last_row_per_step_in_order(tmp_path: Path) -> None:
    lines = [{"step": 0, "loss": 3.0}, {"step": 1, "loss": 2.0}, {"step": 1, "loss": 1.5}, {"step": 2, "loss": 1.0}]
    text = "".join(json.dumps(r) + "\n" for r in lines) + '{"step": 3, "lo'  # torn by a kill -9
    (tmp_path / "metrics.jsonl").write_text(text)
    assert rundir.dedupe_metrics(tmp_path) == 3
    assert rundir.read_jsonl(tmp_path / "metrics.jsonl") == [lines[0], lines[2], lines[3]]
    assert (tmp_path / "metrics.jsonl").read_text().endswith("\n")


def test_tail_reads_whole_lines_once_and_restarts_on_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = rundir.JsonlTail(path)
    assert tail.poll() == []
    path.write_text('{"step": 0}\n{"step": 1')
    assert tail.poll() == [{"step": 0}]
    with open(path, "a") as handle:
        handle.write('}\n{"step": 2}\n')
    assert tail.poll() == [{"step": 1}, {"step": 2}]
    assert tail.poll() == []
    write_atomic(path, '{"step": 0}\n')
    assert tail.poll() == [{"step": 0}] and tail.reset


def test_samples_rows_round_trip(tmp_path: Path) -> None:
    row = rundir.sample_row(4, "heldout", "What is 1 + 2?", "3", reward=1.0, segments=[("What", 0.0), ("3", 1.0)])
    rundir.append_samples(tmp_path, [row])
    [back] = rundir.read_samples(tmp_path)
    assert back == {
        "step": 4, "kind": "heldout", "prompt": "What is 1 + 2?", "completion": "3",
        "reward": 1.0, "segments": [["What", 0.0], ["3", 1.0]],
    }


def test_checkpoint_rows(tmp_path: Path) -> None:
    rows = [
        {"name": "000010", "batch": 10, "state_path": "tinker://a/10", "sampler_path": "tinker://s/10"},
        {"name": "final", "batch": 20, "state_path": "tinker://a/final", "final": True},
    ]
    (tmp_path / "checkpoints.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rundir.last_checkpoint(tmp_path)["name"] == "final"
    assert rundir.last_checkpoint(tmp_path, "sampler_path")["name"] == "000010"
    assert [rundir.checkpoint_step(r) for r in rows] == [10, None]


def test_new_run_dir_is_claimed_unique_and_safely_named(tmp_path: Path) -> None:
    first = rundir.new_run_dir(tmp_path, "r")
    second = rundir.new_run_dir(tmp_path, "r", now=None)
    assert first.is_dir() and second.is_dir()
    assert first.parent == second.parent == tmp_path / "r" and first != second
    assert rundir.new_run_dir(tmp_path, "../a b/c").parent == tmp_path / "a-b-c"
    assert rundir.run_folder_name("my-recipes/my SFT run.toml", "arithmetic-sft") == "my-SFT-run"
    assert rundir.run_folder_name(None, "arithmetic-sft") == "arithmetic-sft"


def test_rundir_stays_light() -> None:
    code = (
        "import sys, cookbook_tui.runners.rundir; "
        "bad = [m for m in ('torch', 'textual', 'tinker', 'tinker_cookbook', 'transformers') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_atomic_writes_follow_the_umask_and_keep_a_files_mode(tmp_path: Path) -> None:
    """Run files (status.json, metrics.jsonl, recipe.toml) and saved recipes were 0600 under umask
    022: the temp file kept mkstemp's mode. New files follow the umask; a re-written one keeps its mode."""
    old = os.umask(0o022)
    try:
        writer = rundir.StatusWriter(tmp_path)
        writer.start(recipe="r")
        rundir.write_recipe_copy(tmp_path, "name = 'r'\n")
        (tmp_path / "metrics.jsonl").write_text('{"step": 0}\n')
        rundir.dedupe_metrics(tmp_path)
        for name in ("status.json", "recipe.toml", "metrics.jsonl"):
            assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(0o644), name
        os.umask(0o027)
        write_atomic(tmp_path / "group.txt", "x")
        assert (tmp_path / "group.txt").stat().st_mode & 0o777 == 0o640
        (tmp_path / "recipe.toml").chmod(0o600)  # the user's own choice survives a re-save
        rundir.write_recipe_copy(tmp_path, "name = 'r2'\n")
        assert (tmp_path / "recipe.toml").stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "recipe.toml").read_text() == "name = 'r2'\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["group.txt", "metrics.jsonl", "recipe.toml", "status.json"]
    finally:
        os.umask(old)


def test_engine_checkpoint_folders_and_files_follow_the_umask(tmp_path: Path) -> None:
    from cookbook_tui.engine.checkpoints import CheckpointStore, tinker_path

    old = os.umask(0o022)
    try:
        store = CheckpointStore(tmp_path)
        store.write_run("m1", {"base_model": "x"})
        folder = store.write_checkpoint(tinker_path("m1", "weights", "000001"), {"step": 1},
                                        lambda d: (d / "adapter.bin").write_bytes(b"w"))
        assert folder.stat().st_mode & 0o777 == 0o755
        assert (folder / "checkpoint.json").stat().st_mode & 0o777 == 0o644
        assert (store.run_dir("m1") / "run.json").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
