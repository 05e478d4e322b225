"""Broken recipes through the real CLI: each names its problem and exits 2, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = """\
workflow = "sl"
backend = "local"

[model]
name = "cookbook-tui/tiny-chat"
renderer = "qwen3_instruct"

[dataset]
path = "bundled:arithmetic_chat.jsonl"
batch_size = 8

[training]
learning_rate = 1e-3
lora_rank_typo = 1
"""

ENTRY = """\
workflow = "cookbook"
entry = "tinker_cookbook.recipes.math_rl.train"
[config]
model_name = "cookbook-tui/tiny-chat"
"""

# (id, edit applied to GOOD, text expected on stderr after "<file>:")
CORPUS = [
    ("syntax", lambda t: t.replace('workflow = "sl"', 'workflow = "sl'), ":1:"),
    ("unknown-key", lambda t: t.replace("batch_size", "batch_sise"), ":10:1: dataset.batch_sise: unknown key (did you mean 'batch_size'?)"),
    ("wrong-type", lambda t: t.replace("learning_rate = 1e-3", 'learning_rate = "fast"'), ':13:17: training.learning_rate: must be a number or "auto", got "fast"'),
    ("bad-range", lambda t: t.replace("batch_size = 8", "batch_size = 0"), ":10:14: dataset.batch_size: must be >= 1, got 0"),
    ("missing-file", lambda t: t.replace("bundled:arithmetic_chat.jsonl", "no_such.jsonl"), ":9:8: dataset.path: file not found:"),
    ("cookbook-typo", lambda t: t + "\n[cookbook]\nrolling_save_evry = 5\n", ":16:1: cookbook.rolling_save_evry: tinker_cookbook.supervised.train:Config has no field 'rolling_save_evry' (did you mean 'rolling_save_every'?)"),
    ("entry-unknown-field", lambda t: ENTRY + "max_step = 3\n", ":5:1: config.max_step: tinker_cookbook.recipes.math_rl.train:CLIConfig has no field 'max_step' (did you mean 'max_steps'?)"),
    ("entry-wrong-type", lambda t: ENTRY + "max_steps_off_policy = true\n", ":5:24: config.max_steps_off_policy: must be int | None, got true"),
    ("entry-unimportable", lambda t: ENTRY.replace("math_rl", "math_rll"), ":2:9: entry: cannot import tinker_cookbook.recipes.math_rll.train: ModuleNotFoundError"),
    ("offline-hub", lambda t: t.replace('path = "bundled:arithmetic_chat.jsonl"', 'hub = "nobody/no-such-dataset"'), ":9:7: dataset.hub: dataset 'nobody/no-such-dataset': not in the local Hugging Face cache"),
    ("bad-env", lambda t: t.replace('"sl"', '"rl"').replace("[dataset]", "[env]").replace('path = "bundled:arithmetic_chat.jsonl"\nbatch_size = 8', 'name = "arithmetc"'), ":9:8: env.name: must be one of arithmetic"),
]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("TINKER_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


@pytest.mark.parametrize("command", ["validate", "--run"])
@pytest.mark.parametrize(("case", "edit", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_broken_recipe_exits_2_naming_the_problem(tmp_path: Path, command: str, case: str, edit, expected: str) -> None:
    recipe = tmp_path / f"{case}.toml"
    recipe.write_text(edit(GOOD.replace("lora_rank_typo = 1\n", "")))
    args = ["validate", str(recipe)] if command == "validate" else ["--run", str(recipe)]
    out = _cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert f"{recipe}{expected}" in out.stderr
    assert not (tmp_path / "runs").exists()  # nothing started


def test_missing_tinker_key_warns_in_validate_and_stops_run(tmp_path: Path) -> None:
    recipe = tmp_path / "tinker.toml"
    recipe.write_text(GOOD.replace("lora_rank_typo = 1\n", "").replace('backend = "local"', 'backend = "tinker"'))
    out = _cli("validate", str(recipe), cwd=tmp_path)
    assert out.returncode == 0 and f'{recipe}:2:1: backend: warning: backend "tinker" needs the TINKER_API_KEY' in out.stderr
    out = _cli("--run", str(recipe), cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert 'cookbook-tui: backend "tinker" needs the TINKER_API_KEY' in out.stderr
    assert not (tmp_path / "runs").exists()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text(GOOD.replace("batch_size = 8", "batch_size = -2"))
    out = _cli("validate", str(recipe), cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines == [
        f"{recipe}:10:14: dataset.batch_size: must be >= 1, got -2",
        f"{recipe}:14:1: training.lora_rank_typo: unknown key",
    ]


def test_valid_recipe_passes(tmp_path: Path) -> None:
    recipe = tmp_path / "ok.toml"
    recipe.write_text(GOOD.replace("lora_rank_typo = 1\n", ""))
    out = _cli("validate", str(recipe), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ok (workflow sl, backend local" in out.stdout


def test_unreadable_recipe_and_bad_run_dirs(tmp_path: Path) -> None:
    out = _cli("validate", str(tmp_path / "missing.toml"), cwd=tmp_path)
    assert out.returncode == 2 and "cannot read recipe" in out.stderr and "Traceback" not in out.stderr
    out = _cli("--resume", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and "not a cookbook-tui run dir" in out.stderr
    recipe = tmp_path / "ok.toml"
    recipe.write_text(GOOD.replace("lora_rank_typo = 1\n", ""))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "status.json").write_text('{"state": "finished"}')
    out = _cli("--run", str(recipe), "--log-dir", str(taken), cwd=tmp_path)
    assert out.returncode == 2 and f"--resume {taken}" in out.stderr
