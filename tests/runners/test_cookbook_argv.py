"""How recipe tables reach the cookbook: `[config]` as the entry module's command line, parsed by
chz exactly as `python -m ENTRY key=value …` would be; `[cookbook]` as chz Blueprint values."""

from __future__ import annotations

import chz

from cookbook_tui.recipes import recipe_from_text
from cookbook_tui.recipes.chz_schema import schema_for
from cookbook_tui.runners.workflows.common import StageContext, chz_values
from cookbook_tui.runners.workflows.cookbook import entry_argv, parsed_cli_config

ENTRY = """\
workflow = "cookbook"
entry = "tinker_cookbook.recipes.math_rl.train"

[config]
model_name = "cookbook-tui/tiny-chat"
compute_post_kl = true
learning_rate = 2e-4
loss_fn = "ppo"
loss_fn_config = { clip_low_threshold = 0.8, clip_high_threshold = 1.2 }

[config.stream_minibatch_config]
groups_per_batch = 8
num_minibatches = 2
"""


def test_config_table_parses_into_the_modules_cli_config(tmp_path) -> None:
    recipe = recipe_from_text(ENTRY, "r.toml")
    ctx = StageContext(run_dir=tmp_path, log_path=tmp_path, base_url="http://127.0.0.1:9")
    schema = schema_for("tinker_cookbook.recipes.math_rl.train:CLIConfig", in_process=True)
    argv = entry_argv(recipe, ctx, schema)
    assert "stream_minibatch_config.num_minibatches=2" in argv and "compute_post_kl=True" in argv
    config = parsed_cli_config("tinker_cookbook.recipes.math_rl.train", argv)
    assert config.compute_post_kl is True and config.learning_rate == 2e-4 and config.loss_fn == "ppo"
    assert config.loss_fn_config == {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}
    assert (config.stream_minibatch_config.groups_per_batch, config.stream_minibatch_config.num_minibatches) == (8, 2)
    assert (config.log_path, config.base_url, config.behavior_if_log_dir_exists) == (str(tmp_path), "http://127.0.0.1:9", "resume")


def test_cookbook_table_becomes_blueprint_values() -> None:
    from tinker_cookbook.rl import train

    schema = schema_for("tinker_cookbook.rl.train:Config", in_process=True)
    values = chz_values({"async_config": {"max_steps_off_policy": 2, "groups_per_batch": 8}, "loss_fn_config": {"a": 1}}, schema)
    assert values == {"async_config.max_steps_off_policy": 2, "async_config.groups_per_batch": 8, "loss_fn_config": {"a": 1}}
    made = chz.Blueprint(train.AsyncConfig).apply({"max_steps_off_policy": 2, "groups_per_batch": 8}).make()
    assert made.max_steps_off_policy == 2
