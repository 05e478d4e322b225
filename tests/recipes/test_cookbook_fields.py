"""[cookbook] and workflow = "cookbook" [config]: checked against the installed chz classes, each
problem at its TOML line with the field named, a did-you-mean, or the key to use instead."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cookbook_tui.recipes import RecipeIssue, check_deep, check_text, chz_schema, recipe_from_text
from cookbook_tui.recipes.schema import COOKBOOK_CONFIGS

RL = """\
workflow = "rl"

[model]
name = "cookbook-tui/tiny-chat"
renderer = "qwen3_instruct"

[env]
name = "arithmetic"

[cookbook]
compute_post_kl = true
rolling_save_every = 5
loss_fn_config = { clip_low_threshold = 0.8 }

[cookbook.async_config]
max_steps_off_policy = 2
groups_per_batch = 8
"""

ENTRY = """\
workflow = "cookbook"
entry = "tinker_cookbook.recipes.math_rl.train"

[config]
model_name = "cookbook-tui/tiny-chat"
env = "arithmetic"
max_steps_off_policy = 2
max_steps = 3

[config.stream_minibatch_config]
groups_per_batch = 8
num_minibatches = 2
"""


def errors(text: str, deep: bool = False, **kw) -> list[RecipeIssue]:
    check = check_deep if deep else check_text
    return [i for i in check(text, "r.toml", **kw) if i.is_error]


def only(text: str, **kw) -> RecipeIssue:
    [issue] = errors(text, **kw)
    return issue


def test_a_cookbook_table_with_nested_configs_is_valid() -> None:
    assert errors(RL) == []
    recipe = recipe_from_text(RL, "r.toml")
    assert recipe.cookbook_fields["async_config"] == {"max_steps_off_policy": 2, "groups_per_batch": 8}


def test_unknown_cookbook_field_has_line_and_did_you_mean() -> None:
    issue = only(RL.replace("compute_post_kl = true", "compute_post_kll = true"))
    assert (issue.line, issue.field) == (11, "cookbook.compute_post_kll")
    assert "tinker_cookbook.rl.train:Config has no field" in issue.message and "'compute_post_kl'" in issue.message


def test_wrong_type_names_field_type_and_value() -> None:
    issue = only(RL.replace("rolling_save_every = 5", 'rolling_save_every = "often"'))
    assert (issue.line, issue.field) == (12, "cookbook.rolling_save_every")
    assert issue.message == 'must be int, got "often"'
    assert issue.column == len("rolling_save_every = ") + 1


def test_nested_sub_table_fields_are_checked() -> None:
    missing, issue = errors(RL.replace("groups_per_batch = 8", "groups_per_btch = 8"))
    assert missing.field == "cookbook.async_config" and missing.line == 15
    assert issue.field == "cookbook.async_config.groups_per_btch" and issue.line == 17
    assert "AsyncConfig has no field" in issue.message and "'groups_per_batch'" in issue.message
    missing = [i for i in errors(RL.replace("groups_per_batch = 8\n", "")) if i.field == "cookbook.async_config"]
    assert missing and "needs groups_per_batch" in missing[0].message


def test_a_field_our_sections_set_is_refused_naming_our_key() -> None:
    issue = only(RL.replace("compute_post_kl = true", "learning_rate = 1e-3"))
    assert issue.field == "cookbook.learning_rate" and "training.learning_rate" in issue.message
    issue = only(RL.replace("compute_post_kl = true", 'log_path = "/tmp/x"'))
    assert "the run dir" in issue.message


@pytest.mark.parametrize("workflow", sorted(COOKBOOK_CONFIGS))
def test_every_owned_field_exists_in_the_installed_config(workflow: str) -> None:
    spec = COOKBOOK_CONFIGS[workflow]
    schema = chz_schema.schema_for(spec.target, in_process=True)
    assert set(spec.owned) <= set(schema.fields), set(spec.owned) - set(schema.fields)


def test_cookbook_table_only_on_curated_workflows() -> None:
    text = ENTRY + "\n[cookbook]\ncompute_post_kl = true\n"
    assert any(i.field == "cookbook" and "[config]" in i.message for i in errors(text))


def test_entry_recipe_is_valid_and_knows_its_model() -> None:
    assert errors(ENTRY) == []
    recipe = recipe_from_text(ENTRY, "r.toml")
    assert recipe.is_entry_module and recipe.model_name == "cookbook-tui/tiny-chat"
    assert recipe.cookbook_fields["stream_minibatch_config"]["num_minibatches"] == 2


def test_entry_unknown_field_and_wrong_type_and_literal() -> None:
    issue = only(ENTRY.replace("max_steps = 3", "max_step = 3"))
    assert (issue.line, issue.field) == (8, "config.max_step") and "'max_steps'" in issue.message
    issue = only(ENTRY.replace("max_steps = 3", 'max_steps = "three"'))
    assert issue.message == 'must be int | None, got "three"'
    issue = only(ENTRY.replace('env = "arithmetic"', 'env = 3'))
    assert issue.field == "config.env" and "must be str" in issue.message
    issue = only(ENTRY.replace("max_steps = 3", 'loss_fn = "ppp"'))
    assert "did you mean 'ppo'" in issue.message


def test_entry_runner_fields_and_our_sections_are_refused() -> None:
    issue = only(ENTRY.replace("max_steps = 3", 'behavior_if_log_dir_exists = "delete"'))
    assert issue.field == "config.behavior_if_log_dir_exists" and "set by cookbook-tui" in issue.message
    issue = only(ENTRY + "\n[training]\nlearning_rate = 1e-3\n")
    assert issue.field == "training" and "[config]" in issue.message


def test_entry_that_cannot_be_imported_is_named() -> None:
    issue = only(ENTRY.replace("tinker_cookbook.recipes.math_rl.train", "tinker_cookbook.recipes.nope.train"))
    assert (issue.field, issue.line) == ("entry", 2)
    assert "cannot import tinker_cookbook.recipes.nope.train" in issue.message
    issue = only('workflow = "cookbook"\nentry = "json:loads"\n')
    assert issue.field == "entry" and "module name" in issue.message
    issue = only('workflow = "cookbook"\nentry = "json"\n')
    assert "json has no 'CLIConfig'" in issue.message
    issue = only('workflow = "cookbook"\n')
    assert issue.field == "entry"


def test_entry_default_model_is_checked_for_the_local_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    # math_rl's CLIConfig defaults to a hub model: offline and uncached, the local engine can't load it.
    text = ENTRY.replace('model_name = "cookbook-tui/tiny-chat"\n', "")
    issues = [i for i in check_deep(text, "r.toml") if i.is_error]
    assert [i.field for i in issues] == ["entry"] and "Qwen/" in issues[0].message


def test_wandb_project_without_a_tracker_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("wandb", "trackio") else real(name, *a))
    text = RL.replace("compute_post_kl = true", 'wandb_project = "mine"')
    issue = only(text)
    assert issue.field == "cookbook.wandb_project" and "pip install 'cookbook-tui[wandb]'" in issue.message


def test_missing_tinker_key_is_a_warning_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    text = 'backend = "tinker"\n' + ENTRY
    issues = check_text(text, "r.toml")
    assert [(i.field, i.severity) for i in issues] == [("backend", "warning")]
    assert "TINKER_API_KEY" in issues[0].message


def test_schema_from_a_subprocess_is_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the editor does: no cookbook import in its own process, one subprocess, then the cache.
    module = tmp_path / "my_recipe_mod.py"
    module.write_text(
        "import chz\n\n@chz.chz\nclass CLIConfig:\n    # how many steps\n    max_steps: int = 3\n    log_path: str | None = None\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("COOKBOOK_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(chz_schema, "_MEMORY", {})
    schema = chz_schema.schema_for("my_recipe_mod:CLIConfig", in_process=False)
    assert "my_recipe_mod" not in sys.modules
    assert schema.fields["max_steps"].doc == "how many steps" and schema.fields["max_steps"].default == "3"
    [cached] = (tmp_path / "cache" / "chz-schemas").glob("*.json")
    assert json.loads(cached.read_text())["target"] == "my_recipe_mod:CLIConfig"
    monkeypatch.setattr(chz_schema, "_MEMORY", {})
    monkeypatch.setattr(chz_schema, "_in_subprocess", lambda target: pytest.fail("cache not used"))
    assert chz_schema.schema_for("my_recipe_mod:CLIConfig").fields.keys() == schema.fields.keys()
    # An edited module is read again.
    module.write_text(module.read_text() + "    seed: int = 0\n")
    import os

    os.utime(module, ns=(1, 1))
    monkeypatch.setattr(chz_schema, "_in_subprocess", chz_schema.describe)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "seed" in chz_schema.schema_for("my_recipe_mod:CLIConfig").fields


SL = """\
workflow = "sl"

[model]
name = "cookbook-tui/tiny-chat"

[dataset]
path = "bundled:arithmetic_chat.jsonl"

[training]
learning_rate = "auto"
"""


def test_renderer_defaults_from_model_info_or_lists_the_choices() -> None:
    recipe = recipe_from_text(SL, "r.toml")
    assert recipe.model.renderer == "qwen3_instruct"
    qwen = recipe_from_text('backend = "tinker"\n' + SL.replace("cookbook-tui/tiny-chat", "Qwen/Qwen3-8B"), "r.toml", environ={"TINKER_API_KEY": "k"})
    from tinker_cookbook import model_info

    assert qwen.model.renderer == model_info.get_recommended_renderer_name("Qwen/Qwen3-8B")
    issue = only('backend = "tinker"\n' + SL.replace("cookbook-tui/tiny-chat", "someone/their-model"), environ={"TINKER_API_KEY": "k"})
    assert issue.field == "model.renderer" and "someone/their-model" in issue.message
    assert "qwen3_instruct" in issue.message and "llama3" in issue.message and "role_colon" in issue.message


def test_learning_rate_auto_uses_the_cookbook(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinker_cookbook import hyperparam_utils

    from cookbook_tui.runners.tiny_model_cookbook import TINY_MODEL_LR
    from cookbook_tui.runners.workflows.common import learning_rate

    assert learning_rate(recipe_from_text(SL, "r.toml")) == TINY_MODEL_LR
    qwen = recipe_from_text('backend = "tinker"\n' + SL.replace("cookbook-tui/tiny-chat", "Qwen/Qwen3-8B"), "r.toml", environ={"TINKER_API_KEY": "k"})
    assert learning_rate(qwen) == hyperparam_utils.get_lr("Qwen/Qwen3-8B")
    issue = only(SL.replace('"auto"', '"fast"'))
    assert issue.field == "training.learning_rate" and issue.message == 'must be a number or "auto", got "fast"'


def test_model_info_knows_the_tiny_model_in_runner_processes(tiny_model_path: Path) -> None:
    from tinker_cookbook import hyperparam_utils, model_info

    from cookbook_tui.common.tiny_model import MODEL_SHAPE, TINY_MODEL_NAME
    from cookbook_tui.runners.tiny_model_cookbook import register_with_cookbook

    register_with_cookbook()
    register_with_cookbook()  # idempotent
    assert model_info.get_recommended_renderer_name(TINY_MODEL_NAME) == "qwen3_instruct"
    assert model_info.get_recommended_renderer_name(str(tiny_model_path)) == "qwen3_instruct"
    assert model_info.get_model_attributes("Qwen/Qwen3-8B").organization == "Qwen"  # others unchanged
    assert hyperparam_utils.get_lr(TINY_MODEL_NAME) > 0
    # The cookbook's prompts fit: guess_number's 1030 tokens, prompt_distillation's ~2.9k.
    assert MODEL_SHAPE["max_position_embeddings"] >= 4096
    config = json.loads((tiny_model_path / "config.json").read_text())
    tokenizer = json.loads((tiny_model_path / "tokenizer_config.json").read_text())
    assert config["max_position_embeddings"] >= 4096 and tokenizer["model_max_length"] >= 4096


def test_field_help_names_type_default_and_doc() -> None:
    from cookbook_tui.recipes.field_help import field_help

    lines = RL.splitlines()
    at = {line.split(" ")[0]: n for n, line in enumerate(lines, start=1)}
    assert field_help(RL, at["compute_post_kl"]) == (
        "cookbook.compute_post_kl: bool (default False) — Compute extra post-update KL metrics (adds overhead)."
    )
    assert field_help(RL, at["max_steps_off_policy"]).startswith("cookbook.async_config.max_steps_off_policy: int (required) — ")
    assert field_help(RL, at["[cookbook]"]).startswith("[cookbook]: fields of tinker_cookbook.rl.train:Config")
    assert field_help(RL, 4).startswith("model.name: str (required) — ")
    assert field_help(ENTRY, 7).startswith("config.max_steps_off_policy: int | None (default None)")
    assert field_help(RL, 2) is None  # a blank line
