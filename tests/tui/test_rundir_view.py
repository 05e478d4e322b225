"""Following a run dir: only new rows are read each poll, a torn line waits, a rewrite rebuilds."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cookbook_tui.monitor.rundir_view import RunWatch, newest_run_dirs
from cookbook_tui.runners.rundir import read_status

from .factory import FIXTURES


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_each_poll_reads_only_appended_rows_and_waits_for_a_whole_line(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    append(metrics, "".join(json.dumps({"step": s, "train_mean_nll": 4.0 - s}) + "\n" for s in range(3)))
    watch = RunWatch(tmp_path, pid_alive=lambda pid: False)
    assert "metrics" in watch.poll()
    assert watch.metrics.columns["train_mean_nll"] == ([0, 1, 2], [4.0, 3.0, 2.0])
    offset = watch._metrics_tail.offset
    assert offset == metrics.stat().st_size

    append(metrics, json.dumps({"step": 3, "train_mean_nll": 1.0}) + "\n" + '{"step": 4, "train_')
    assert "metrics" in watch.poll()
    assert watch.metrics.columns["train_mean_nll"][0] == [0, 1, 2, 3]
    assert watch._metrics_tail.offset > offset  # moved past row 3 only, not the torn row 4

    append(metrics, 'mean_nll": 0.5}\n')
    watch.poll()
    assert watch.metrics.columns["train_mean_nll"] == ([0, 1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0, 0.5])
    assert "metrics" not in watch.poll()  # nothing new: nothing re-read


def test_a_rewritten_metrics_file_rebuilds_the_columns(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("".join(json.dumps({"step": s, "loss": float(s)}) + "\n" for s in (0, 1, 2, 2)))
    watch = RunWatch(tmp_path, pid_alive=lambda pid: False)
    watch.poll()
    replacement = tmp_path / "metrics.tmp"
    replacement.write_text("".join(json.dumps({"step": s, "loss": 10.0 + s}) + "\n" for s in (0, 1, 2)))
    os.replace(replacement, metrics)  # the runner dedupes by an atomic rewrite
    assert "metrics" in watch.poll()
    assert watch.metrics.columns["loss"] == ([0, 1, 2], [10.0, 11.0, 12.0])


def test_run_dirs_from_the_runner_and_from_tinker_cookbook_alone_are_found() -> None:
    found = {f"{d.parent.name}/{d.name}" for d in newest_run_dirs(FIXTURES / "run_dirs")}
    assert found == {
        "arithmetic-sft/20261128-101500",
        "arithmetic-sft/20261128-103000",
        "arithmetic-rl/20261128-110000",
        "arithmetic-dpo/20261128-120000",
        "cookbook-only/sl-basic",
    }
    cookbook_only = read_status(FIXTURES / "run_dirs" / "cookbook-only" / "sl-basic")
    assert cookbook_only.state == "finished"  # its checkpoints.jsonl has a final row


def test_one_eta_rule_for_the_runs_table_and_the_run_screen() -> None:
    """At the recent pace when the run logs step times, else at this attempt's pace; only while it
    runs, once a step is done and the total is known."""
    from datetime import UTC, datetime, timedelta

    from cookbook_tui.monitor.rundir_view import attempt_seconds, remaining_seconds
    from cookbook_tui.runners.rundir import RunStatus

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    running = RunStatus(state="running", started_at=now - timedelta(seconds=100), total_steps=30)
    assert attempt_seconds(running, now) == 100
    assert remaining_seconds(running, 10, 2.0, now) == 40  # 20 steps at the recent 2 s a step
    assert remaining_seconds(running, 10, None, now) == 200  # at this attempt's 10 s a step
    assert remaining_seconds(running, 0, 2.0, now) is None  # no step done yet
    assert remaining_seconds(RunStatus(state="running", started_at=running.started_at), 10, 2.0, now) is None
    ended = RunStatus(state="finished", started_at=running.started_at, ended_at=now - timedelta(seconds=40), total_steps=30)
    assert remaining_seconds(ended, 30, 2.0, now) is None
    assert attempt_seconds(ended, now) == 60  # an ended run's clock stops at its end
