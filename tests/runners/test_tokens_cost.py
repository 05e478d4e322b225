"""Tokens, cost and system metrics per step: a bundled recipe's metrics carry tokens/*, system/*
and, with a price table, cost/*; counts match what the run sent (trained tokens = the batch's tokens)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from run_helpers import cli, reduced_recipe

from cookbook_tui.runners import rundir
from cookbook_tui.runners.token_meter import ModelPrices, TokenMeter, load_prices

pytestmark = pytest.mark.usefixtures("tiny_model_path")

PRICES = """
[models."cookbook-tui/tiny-chat"]
train = 2.0
prefill = 0.5
sample = 4.0
"""


def test_rl_run_logs_tokens_and_cost(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prices.toml").write_text(PRICES)
    recipe = reduced_recipe(
        "arithmetic-rl", tmp_path,
        warmup={"steps": 3}, env={"num_batches": 4}, training={"max_steps": 3, "save_every": 0},
    )
    run_dir = tmp_path / "run"
    out = cli("--run", str(recipe), "--log-dir", str(run_dir), env={**os.environ, "COOKBOOK_TUI_CONFIG_DIR": str(config)})
    assert out.returncode == 0, out.stderr[-3000:]
    rows = rundir.read_metrics(run_dir)
    assert len(rows) == 3
    for row in rows:
        # 8 groups x 16 rollouts: every rollout trained on and at least one token sampled each
        assert row["tokens/trained"] > 0 and row["tokens/sampled"] >= 8 * 16 and row["tokens/prefill"] > 0
        expected = (2.0 * row["tokens/trained"] + 0.5 * row["tokens/prefill"] + 4.0 * row["tokens/sampled"]) / 1e6
        assert row["cost/step_usd"] == pytest.approx(expected)
        # the runner's system metrics: the process (and the local engine inside it) holds the model
        assert row["system/rss_mb"] > 50 and row["system/cpu_percent"] >= 0
    assert any(row["system/cpu_percent"] > 0 for row in rows)  # a step of RL keeps a core busy
    warm = rundir.read_metrics(run_dir / "warmup")
    # SFT pipelines: the next batch is sent before a row is logged, so counts are "since the last
    # row"; the stage's total is exact.
    assert len(warm) == 3 and all(r["tokens/sampled"] == 0 for r in warm)
    assert sum(r["tokens/trained"] for r in warm) > 0
    # the total runs on from the warmup stage into the RL stage
    every = warm + rows
    running = 0.0
    for row in every:
        running += row["cost/step_usd"]
        assert row["cost/total_usd"] == pytest.approx(running)
    assert f"cost: ${running:.4f}" in out.stdout + out.stderr


def test_without_prices_only_tokens(tmp_path: Path) -> None:
    meter = TokenMeter(None)
    meter.add("trained", 100)
    assert meter.take_row() == {"tokens/trained": 100.0, "tokens/prefill": 0.0, "tokens/sampled": 0.0}
    assert meter.take_row()["tokens/trained"] == 0.0


def test_price_table_errors_name_file_and_key(tmp_path: Path) -> None:
    assert load_prices("m", tmp_path) is None
    (tmp_path / "prices.toml").write_text('[models."m"]\ntrain = 1\nprefill = 1\n')
    with pytest.raises(ValueError, match=r'prices.toml: models."m".sample'):
        load_prices("m", tmp_path)
    (tmp_path / "prices.toml").write_text('[models."m"]\ntrain = 1\nprefill = 1\nsample = 2\n')
    assert load_prices("m", tmp_path) == ModelPrices(1.0, 1.0, 2.0)
    assert load_prices("other", tmp_path) is None
