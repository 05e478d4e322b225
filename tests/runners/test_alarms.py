"""Each alarm fires on a run dir that shows it and stays quiet on a healthy one."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cookbook_tui.runners.alarms import AlarmThresholds, check_run, load_thresholds
from cookbook_tui.runners.runs_index import list_runs


def rl_rows(n: int = 20, **overrides) -> list[dict]:
    rows = []
    for step in range(n):
        row = {
            "step": step,
            "env/all/reward/total": 0.2 + 0.02 * step,
            "optim/kl_sample_train_v1": 0.001 + 0.0001 * math.sin(step),
            "optim/entropy": 1.2 - 0.01 * step,
            "env/all/by_group/frac_mixed": 0.6,
            "time/total": 2.0,
        }
        for key, fn in overrides.items():
            row[key.replace("__", "/")] = fn(step)
        rows.append(row)
    return rows


def write_run(path: Path, rows: list[dict], state: str = "finished", pid: int | None = None) -> Path:
    path.mkdir(parents=True)
    status = {
        "state": state, "pid": pid, "started_at": "2026-12-01T08:00:00+00:00", "workflow": "rl",
        "recipe": path.name, "backend": "local", "model": "cookbook-tui/tiny-chat", "total_steps": 40,
    }
    (path / "status.json").write_text(json.dumps(status))
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def kinds(run_dir: Path, **kw) -> list[str]:
    return [a.kind for a in check_run(run_dir, **kw)]


def test_healthy_rl_run_has_no_alarm(tmp_path):
    assert kinds(write_run(tmp_path / "ok", rl_rows())) == []


def test_kl_above_threshold(tmp_path):
    run = write_run(tmp_path / "kl", rl_rows(optim__kl_sample_train_v1=lambda s: 0.001 * s))
    alarms = check_run(run)
    assert [a.kind for a in alarms] == ["kl"]
    assert alarms[0].step == 19 and "0.019" in alarms[0].message


def test_entropy_collapse(tmp_path):
    run = write_run(tmp_path / "ent", rl_rows(optim__entropy=lambda s: 1.2 * (0.9**s)))
    assert kinds(run) == ["entropy"]


def test_constant_reward_groups(tmp_path):
    run = write_run(tmp_path / "flat", rl_rows(**{"env__all__by_group__frac_mixed": lambda s: 0.05}))
    assert kinds(run) == ["constant_reward"]


def test_nan_in_any_metric(tmp_path):
    rows = rl_rows()
    rows[7]["optim/lr_scale"] = float("nan")
    run = write_run(tmp_path / "nan", rows)
    alarms = check_run(run)
    assert [a.kind for a in alarms] == ["non_finite"]
    assert "optim/lr_scale" in alarms[0].message and alarms[0].step == 7


def test_stalled_running_run(tmp_path):
    run = write_run(tmp_path / "stall", rl_rows(), state="running", pid=os.getpid())
    mtime = (run / "metrics.jsonl").stat().st_mtime
    quiet = AlarmThresholds(stall_min_seconds=1.0)
    # median step time 2 s, factor 5: 9 s after the last row is fine, 11 s is a stall
    assert kinds(run, thresholds=quiet, now=mtime + 9) == []
    assert kinds(run, thresholds=quiet, now=mtime + 11) == ["stalled"]
    # a finished run never stalls
    done = write_run(tmp_path / "done", rl_rows())
    assert kinds(done, thresholds=quiet, now=time.time() + 3600) == []


def test_thresholds_from_config_dir(tmp_path):
    (tmp_path / "alarms.toml").write_text("kl_sample_train_max = 0.5\n")
    assert load_thresholds(tmp_path).kl_sample_train_max == 0.5
    (tmp_path / "alarms.toml").write_text("kl_max = 0.5\n")
    with pytest.raises(ValueError, match="kl_max"):
        load_thresholds(tmp_path)


def test_runs_json_lists_runs_with_alerts(tmp_path):
    write_run(tmp_path / "runs" / "good" / "20261201-080000", rl_rows())
    write_run(tmp_path / "runs" / "bad" / "20261201-090000", rl_rows(optim__entropy=lambda s: 1.2 * (0.8**s)))
    out = subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", "runs", "--json", "--dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=60, check=True,
    )
    runs = {Path(r["run_dir"]).parent.name: r for r in json.loads(out.stdout)}
    assert set(runs) == {"good", "bad"}
    assert runs["good"]["alerts"] == [] and runs["good"]["steps"] == 20
    assert runs["good"]["headline"] == "env/all/reward/total"
    assert runs["good"]["headline_value"] == pytest.approx(0.2 + 0.02 * 19)
    assert [a["kind"] for a in runs["bad"]["alerts"]] == ["entropy"]
    # a missing --dir is a clear error, exit 2
    bad = subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", "runs", "--dir", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "no such folder" in bad.stderr and "Traceback" not in bad.stderr


def test_list_runs_skips_run_subfolders(tmp_path):
    run = write_run(tmp_path / "r" / "x", rl_rows(3))
    (run / "iteration_000001").mkdir()
    (run / "iteration_000001" / "metrics.jsonl").write_text("")
    assert [Path(s.run_dir) for s in list_runs([tmp_path])] == [run]


def test_alarm_watch_reports_each_alarm_once_and_keeps_a_nan():
    from cookbook_tui.runners.alarms import AlarmWatch

    watch = AlarmWatch()
    rows = rl_rows(optim__kl_sample_train_v1=lambda s: 0.02 if s >= 10 else 0.001)
    started = [a.kind for row in rows for a in watch.feed(row)]
    assert started == ["kl"]  # once, at step 10, though it stays high
    assert [a.kind for a in watch.current] == ["kl"]
    batch = AlarmWatch()
    nan_rows = rl_rows()
    nan_rows[3]["optim/kl_sample_train_v1"] = float("inf")
    assert sorted(a.kind for a in batch.feed_rows(nan_rows)) == ["non_finite"]
    assert [a.kind for a in batch.current] == ["non_finite"]  # later finite rows do not clear it


def test_one_batch_of_constant_groups_is_not_an_alarm(tmp_path):
    from cookbook_tui.runners.alarms import AlarmWatch

    blip = rl_rows(**{"env__all__by_group__frac_mixed": lambda s: 0.0 if s == 19 else 0.6})
    assert kinds(write_run(tmp_path / "blip", blip)) == []
    watch = AlarmWatch()
    assert [a.kind for row in blip for a in watch.feed(row)] == []
    flat = rl_rows(**{"env__all__by_group__frac_mixed": lambda s: 0.0 if s >= 15 else 0.6})
    assert kinds(write_run(tmp_path / "flat5", flat)) == ["constant_reward"]
    watch, batch = AlarmWatch(), AlarmWatch()
    assert [a.kind for row in flat for a in watch.feed(row)] == ["constant_reward"]
    assert [a.kind for a in batch.feed_rows(flat)] == ["constant_reward"]
