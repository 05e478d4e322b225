"""Which metric goes on which plot, for the keys tinker-cookbook's loops write."""

from __future__ import annotations

from cookbook_tui.app.metric_groups import METRIC_GROUPS, keys_for, primary_loss_key, smooth, thin

KEYS = [
    "train_mean_nll", "test/nll", "num_loss_tokens", "dpo_loss", "learning_rate", "time/total",
    "optim/kl_sample_train_v1", "optim/kl_sample_train_v2", "kl_policy_base", "teacher_kl",
    "env/all/reward/total", "test/env/all/reward/total", "accuracy", "optim/entropy", "progress",
]


def test_each_plot_takes_its_own_metrics() -> None:
    loss, kl, reward = (keys_for(group, KEYS) for group in METRIC_GROUPS)
    assert loss == ["train_mean_nll", "test/nll", "dpo_loss"]
    assert kl == ["optim/kl_sample_train_v1", "optim/kl_sample_train_v2", "kl_policy_base", "teacher_kl"]
    assert reward == ["env/all/reward/total", "test/env/all/reward/total", "accuracy"]


def test_the_compared_loss_is_the_training_loss() -> None:
    assert primary_loss_key(["test/nll", "train_mean_nll"]) == "train_mean_nll"
    assert primary_loss_key(["accuracy", "dpo_loss"]) == "dpo_loss"
    assert primary_loss_key(["env/all/reward/total"]) is None


def test_smoothing_follows_the_trend_without_pulling_the_start_to_zero() -> None:
    values = [4.0, 4.0, 4.0, 1.0, 1.0, 1.0]
    smoothed = smooth(values)
    assert smoothed[0] == 4.0
    assert 1.0 < smoothed[-1] < 4.0


def test_thinning_keeps_the_ends_and_the_limit() -> None:
    steps = list(range(100_000))
    kept_steps, kept_values = thin(steps, [float(s) for s in steps], limit=1000)
    assert len(kept_steps) <= 1001
    assert kept_steps[0] == 0 and kept_steps[-1] == 99_999
    assert kept_values == [float(s) for s in kept_steps]

