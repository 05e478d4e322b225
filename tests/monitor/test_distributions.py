"""Distributions over steps from tinker-cookbook's rollout export: values, quantiles, density."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cookbook_tui.monitor.distributions import QUANTILES, RolloutFiles, density, rollout_values

RL_RUN = Path(__file__).resolve().parents[1] / "tui/fixtures/run_dirs/arithmetic-rl/20261128-110000"


def record(group: int, reward: float, **metrics: float) -> dict:
    return {"group_idx": group, "total_reward": reward, "trajectory_metrics": {},
            "steps": [{"metrics": dict(metrics)}, {"metrics": {k: v + 1 for k, v in metrics.items()}}]}


def test_reward_advantage_against_its_group_mean_and_per_rollout_metrics() -> None:
    values = rollout_values([record(0, 1.0, correct=1.0), record(0, 0.0, correct=0.0), record(1, 0.5, correct=0.0),
                             record(1, 0.5, correct=1.0), record(1, 0.2, correct=1.0)])
    assert values["rollouts/reward"] == [1.0, 0.0, 0.5, 0.5, 0.2]
    assert np.allclose(values["rollouts/advantage"], [0.5, -0.5, 0.1, 0.1, -0.2])
    assert values["rollouts/correct"] == [1.5, 0.5, 0.5, 1.5, 1.5]  # the mean over its two transitions


def test_quantiles_and_density_per_step_equal_numpy_on_the_cookbook_files() -> None:
    files = RolloutFiles(RL_RUN)
    assert files.poll() == {"rollouts/reward", "rollouts/advantage", "rollouts/correct"}
    reward = files.distributions["rollouts/reward"]
    assert reward.steps == list(range(41))
    expected = []
    for step in reward.steps:
        rows = [json.loads(line) for line in (RL_RUN / f"iteration_{step:06d}" / "train_rollout_summaries.jsonl").read_text().splitlines()]
        expected.append(np.quantile([row["total_reward"] for row in rows], QUANTILES))
    assert np.allclose(reward.quantiles(), np.stack(expected))
    low, high = reward.value_range()
    counts = density(reward.values, low, high, 10)
    for column, values in enumerate(reward.values):
        histogram, _ = np.histogram(values, bins=10, range=(low, high))
        assert counts[:, column].tolist() == histogram.tolist()
    assert files.poll() == set()  # nothing new: nothing read


def test_a_file_still_being_written_is_read_again_once_it_grows(tmp_path: Path) -> None:
    folder = tmp_path / "iteration_000003"
    folder.mkdir()
    path = folder / "train_rollout_summaries.jsonl"
    lines = [json.dumps(record(0, r)) for r in (1.0, 0.0, 0.5)]
    path.write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:20])
    files = RolloutFiles(tmp_path)
    files.poll()
    assert files.distributions["rollouts/reward"].values[0].tolist() == [1.0, 0.0]
    path.write_text("\n".join(lines) + "\n")
    assert "rollouts/reward" in files.poll()
    assert files.distributions["rollouts/reward"].steps == [3]
    assert files.distributions["rollouts/reward"].values[0].tolist() == [1.0, 0.0, 0.5]
