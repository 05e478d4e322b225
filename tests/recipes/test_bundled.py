"""The bundled recipes and data: all valid, listed, and the data reproducible from its generator."""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path

import pytest

from cookbook_tui.recipes import check_deep, check_text, list_recipes, load_recipe
from cookbook_tui.recipes.data_gen import GENERATORS, render
from cookbook_tui.recipes.paths import BUNDLED_DIR, DATA_DIR
from cookbook_tui.recipes.schema import RENDERERS

BUNDLED = sorted(BUNDLED_DIR.glob("*.toml"))
OFFLINE = {
    "arithmetic-sft",
    "arithmetic-rl",
    "arithmetic-rl-stream",
    "arithmetic-dpo",
    "arithmetic-distill",
    "guess-number",
    # workflow = "cookbook": tinker-cookbook's own recipe modules
    "math-rl-async",
    "math-rl-stream",
    "text-arena-tictactoe",
    "preference-shorter",
}
REMOTE = {"chat-sft-no-robots", "math-rl-gsm8k", "dpo-hh-rlhf", "distill-deepmath"}


def test_the_bundled_set() -> None:
    assert {p.stem for p in BUNDLED} == OFFLINE | REMOTE
    workflows = {load_recipe(p).workflow for p in BUNDLED if p.stem in OFFLINE}
    assert workflows == {"sl", "rl", "dpo", "distill", "multiturn_rl", "cookbook"}


@pytest.mark.parametrize("path", [p for p in BUNDLED if p.stem in OFFLINE], ids=lambda p: p.stem)
def test_offline_recipes_are_valid_without_network_or_key(path: Path) -> None:
    recipe = load_recipe(path, deep=True)
    assert recipe.backend == "local" and recipe.warnings == []
    assert recipe.name == path.stem


@pytest.mark.parametrize("path", [p for p in BUNDLED if p.stem in REMOTE], ids=lambda p: p.stem)
def test_remote_recipes_validate_offline_with_a_warning_not_a_hang(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    issues = check_deep(path.read_text(), str(path))
    assert time.monotonic() - started < 10  # a generous bound on "answers at once"; the real check is the next line
    assert all(i.severity == "warning" for i in issues), [str(i) for i in issues]
    assert any("hub" in i.message.lower() for i in issues)


def test_remote_recipes_without_the_key_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    # The recipe is fine; the environment is not ready to run it (--run refuses: tests/runners).
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    path = BUNDLED_DIR / "chat-sft-no-robots.toml"
    issues = check_text(path.read_text(), str(path))
    assert [(i.field, i.severity) for i in issues] == [("backend", "warning")]


def test_list_recipes_covers_bundled_cwd_and_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    (config / "recipes").mkdir(parents=True)
    (config / "recipes" / "mine.toml").write_text('workflow = "dpo"\ndescription = "my own"\n')
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "local.toml").write_text('name = "here"\nworkflow = "rl"\nbackend = "tinker"\n')
    (tmp_path / "recipes" / "broken.toml").write_text("workflow = \n")
    monkeypatch.setenv("COOKBOOK_TUI_CONFIG_DIR", str(config))
    monkeypatch.chdir(tmp_path)
    infos = {i.name: i for i in list_recipes()}
    assert OFFLINE | REMOTE <= set(infos)
    assert infos["arithmetic-sft"].bundled and infos["arithmetic-sft"].workflow == "sl"
    assert infos["here"].backend == "tinker" and not infos["here"].bundled
    assert infos["mine"].description == "my own" and infos["mine"].path == config / "recipes" / "mine.toml"
    assert infos["broken"].workflow == "?"  # listed so the user can open and fix it


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_shipped_data_is_the_generators_output(name: str) -> None:
    assert (DATA_DIR / name).read_text() == render(name)


def test_renderer_names_match_the_installed_cookbook() -> None:
    from tinker_cookbook import renderers

    # get_renderer's docstring lists every name it accepts as ``"name"``.
    documented = set(re.findall(r'``"([a-z0-9_]+)"``', inspect.getsource(renderers.get_renderer)))
    assert set(RENDERERS) == documented


def test_guess_number_warmup_data_matches_the_env() -> None:
    from cookbook_tui.recipes.data_gen import GUESS_SYSTEM_PROMPT, GUESS_UPPER_BOUND
    from cookbook_tui.runners.workflows.envs import guess_system_prompt

    assert GUESS_SYSTEM_PROMPT == guess_system_prompt(GUESS_UPPER_BOUND)
    recipe = load_recipe(BUNDLED_DIR / "guess-number.toml")
    assert recipe.env.options["upper_bound"] == GUESS_UPPER_BOUND
