"""`workflow = "rl"` and `"multiturn_rl"`: tinker-cookbook's RL loop (rl/train.py) over a bundled
environment or the user's RLDatasetBuilder."""

from __future__ import annotations

import asyncio

from tinker_cookbook.rl import train
from tinker_cookbook.rl.types import RLDatasetBuilder

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.samples import RecordingRLDatasetBuilder
from cookbook_tui.runners.workflows import common
from cookbook_tui.runners.workflows.common import Stage, StageContext, construct
from cookbook_tui.runners.workflows.envs import ArithmeticDatasetBuilder, GuessNumberDatasetBuilder


def env_dataset_builder(recipe: Recipe) -> RLDatasetBuilder:
    env, groups_per_batch = recipe.env, recipe.rollouts.groups_per_batch
    standard = dict(common.builder_arguments(recipe), batch_size=groups_per_batch, model_name=recipe.model.name)
    options = dict(env.options)
    if env.builder:
        return construct(common.load_entry_point(env.builder), options, standard)
    name = env.name
    if name == "arithmetic":
        return construct(ArithmeticDatasetBuilder, options, dict(standard, n_batches=env.num_batches))
    if name == "guess_number":
        return construct(GuessNumberDatasetBuilder, options, standard)
    from tinker_cookbook.recipes.math_rl.math_env import get_math_dataset_builder

    assert name is not None  # the validator asks for exactly one of name, builder

    return get_math_dataset_builder(
        dataset_name=name,
        batch_size=groups_per_batch,
        model_name_for_tokenizer=recipe.model.name,
        renderer_name=recipe.renderer,
        group_size=recipe.rollouts.group_size,
        seed=int(options.get("seed", 0)),
    )


GUESS_DEFAULTS = {"upper_bound": 1024, "repeats": 1}  # GuessNumberDatasetBuilder's defaults


def known_batches(recipe: Recipe) -> int | None:
    env = recipe.env
    if env.name == "arithmetic":
        return env.num_batches
    if env.name == "guess_number":
        options = {**GUESS_DEFAULTS, **env.options}
        return max(1, options["upper_bound"] * options["repeats"] // recipe.rollouts.groups_per_batch)
    return None


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, training = recipe.model, recipe.training
    kl = training.kl_penalty or 0.0
    config = common.make_config(
        recipe,
        train.Config,
        dict(
            common.shared_fields(recipe, ctx),
            **common.rollout_fields(recipe),
            dataset_builder=RecordingRLDatasetBuilder(
                inner=env_dataset_builder(recipe),
                run_dir=str(ctx.run_dir),
                model_name_for_tokenizer=model.name,
                per_step=recipe.samples.count,
            ),
            kl_penalty_coef=kl,
            kl_reference_config=train.KLReferenceConfig(base_model=model.name) if kl > 0 else None,
        ),
    )
    steps = common.expected_steps(known_batches(recipe), 1, training.max_steps)
    return Stage("train", config, lambda: asyncio.run(train.main(config)), steps)
