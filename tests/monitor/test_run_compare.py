"""Config diff and short labels for compare (plain Python)."""

from __future__ import annotations

from pathlib import Path

from cookbook_tui.monitor.run_compare import better_is_lower, config_diff, short_labels, summarise


def test_only_differing_keys_are_kept_and_the_run_dir_paths_are_noise() -> None:
    runs = [Path("runs/a/1"), Path("runs/a/2")]
    configs = [
        {"recipe:training.learning_rate": 0.003, "recipe:training.batch_size": 16, "config:log_path": "runs/a/1"},
        {"recipe:training.learning_rate": 0.001, "recipe:training.batch_size": 16, "config:log_path": "runs/a/2"},
    ]
    diff = config_diff(configs, runs)
    assert [(row.key, row.values) for row in diff] == [("recipe:training.learning_rate", (0.003, 0.001))]


def test_labels_add_only_the_keys_that_tell_runs_apart() -> None:
    configs = [
        {"recipe:training.learning_rate": 0.003, "config:model_name": "tiny"},
        {"recipe:training.learning_rate": 0.001, "config:model_name": "tiny"},
        {"config:model_name": "llama"},
    ]
    diff = config_diff(configs)
    labels = short_labels(["sft", "sft", "cookbook-only"], diff)
    assert labels == ["sft lr=0.003", "sft lr=0.001", "cookbook-only"]
    assert short_labels(["sft", "sft"], []) == ["sft #1", "sft #2"]


def test_summary_best_is_the_minimum_of_losses_and_the_maximum_of_rewards() -> None:
    columns = {"train_mean_nll": ([0, 1, 2], [3.0, 1.0, 2.0]), "env/all/reward/total": ([0, 1, 2], [0.1, 0.9, 0.5])}
    row = summarise("run", columns, ["train_mean_nll", "env/all/reward/total"], 12.0)
    assert row.final == {"train_mean_nll": 2.0, "env/all/reward/total": 0.5}
    assert row.best == {"train_mean_nll": 1.0, "env/all/reward/total": 0.9}
    assert row.steps == 3 and better_is_lower("optim/kl_sample_train_v1") and not better_is_lower("accuracy")
