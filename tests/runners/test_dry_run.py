"""--dry-run: resolved config, dataset size, first example with its loss mask; nothing trains."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from run_helpers import cli

from cookbook_tui.recipes.paths import BUNDLED_DIR

pytestmark = pytest.mark.usefixtures("tiny_model_path")


def test_dry_run_shows_config_size_and_masked_example(tmp_path: Path) -> None:
    out = cli("--run", str(BUNDLED_DIR / "arithmetic-sft.toml"), "--dry-run", cwd=tmp_path, env=dict(os.environ, FORCE_COLOR="1", COLUMNS="200"))
    assert out.returncode == 0, out.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)
    assert "resolved tinker-cookbook config" in text and '"learning_rate"' in text
    assert "dataset: 5 batches of 16 examples; 16 held out" in text
    # The answer is trained on (bold green), the prompt is context (dim).
    prompt, answer = out.stdout.split("<|im_start|>assistant", 1)
    assert "\x1b[2m<|im_start|>user" in prompt and "What is" in prompt
    assert re.search(r"\x1b\[1;32m\d+<\|im_end\|>", answer)
    assert not (tmp_path / "runs").exists()
    assert "Warning" not in out.stderr  # library chatter stays off the terminal


def test_dry_run_of_an_rl_recipe_with_a_warmup(tmp_path: Path) -> None:
    out = cli("--run", str(BUNDLED_DIR / "arithmetic-rl.toml"), "--dry-run", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "warmup stage (100 SFT steps" in out.stdout
    assert "dataset: 40 batches of 8 prompts x 16 rollouts" in out.stdout
    assert "What is" in out.stdout


def test_dry_run_of_a_tinker_recipe_offline_warns_and_does_not_hang(tmp_path: Path) -> None:
    env = dict(os.environ, TINKER_API_KEY="tml-test", HF_HUB_OFFLINE="1")
    out = cli("--run", str(BUNDLED_DIR / "dpo-hh-rlhf.toml"), "--dry-run", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "warning:" in out.stderr and "Anthropic/hh-rlhf" in out.stderr
    assert '"dpo_beta": 0.1' in out.stdout and "dataset: not loaded" in out.stdout
