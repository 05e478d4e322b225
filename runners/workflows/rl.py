"""`workflow = "rl"` and `"multiturn_rl"`: tinker-cookbook's RL loop (rl/train.py) over a bundled
environment or the user's RLDatasetBuilder."""

from __future__ import annotations

import asyncio

from tinker_cookbook.rl import train
from tinker_cookbook.rl.types import RLDatasetBuilder

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.samples import RecordingRLDatasetBuilder
from cookbook_tui.runners.workflows.common import (
    Stage,
    StageContext,
    construct,
    expected_steps,
    learning_rate,
    load_entry_point,
    make_config,
)
from cookbook_tui.runners.workflows.envs import ArithmeticDatasetBuilder, GuessNumberDatasetBuilder


def env_dataset_builder(recipe: Recipe) -> RLDatasetBuilder:
    model, env, ro = recipe.section("model"), recipe.section("env"), recipe.section("rollouts")
    standard = {
        "batch_size": ro["groups_per_batch"],
        "group_size": ro["group_size"],
        "model_name_for_tokenizer": model["name"],
        "model_name": model["name"],
        "renderer_name": model["renderer"],
    }
    options = dict(env["options"])
    if env.get("builder"):
        return construct(load_entry_point(env["builder"]), options, standard)
    name = env["name"]
    if name == "arithmetic":
        return construct(ArithmeticDatasetBuilder, options, dict(standard, n_batches=env["num_batches"]))
    if name == "guess_number":
        return construct(GuessNumberDatasetBuilder, options, standard)
    from tinker_cookbook.recipes.math_rl.math_env import get_math_dataset_builder

    return get_math_dataset_builder(
        dataset_name=name,
        batch_size=ro["groups_per_batch"],
        model_name_for_tokenizer=model["name"],
        renderer_name=model["renderer"],
        group_size=ro["group_size"],
        seed=int(options.get("seed", 0)),
    )


GUESS_DEFAULTS = {"upper_bound": 1024, "repeats": 1}  # GuessNumberDatasetBuilder's defaults


def known_batches(recipe: Recipe) -> int | None:
    env, ro = recipe.section("env"), recipe.section("rollouts")
    if env.get("name") == "arithmetic":
        return env["num_batches"]
    if env.get("name") == "guess_number":
        options = {**GUESS_DEFAULTS, **env["options"]}
        return max(1, options["upper_bound"] * options["repeats"] // ro["groups_per_batch"])
    return None


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, ro, tr = recipe.section("model"), recipe.section("rollouts"), recipe.section("training")
    kl = tr["kl_penalty"] or 0.0
    config = make_config(
        recipe,
        train.Config,
        dict(
            learning_rate=learning_rate(recipe),
            dataset_builder=RecordingRLDatasetBuilder(
                inner=env_dataset_builder(recipe),
                run_dir=str(ctx.run_dir),
                model_name_for_tokenizer=model["name"],
                per_step=recipe.section("samples")["count"],
            ),
            model_name=model["name"],
            recipe_name=recipe.name,
            max_tokens=ro["max_tokens"],
            log_path=str(ctx.log_path),
            eval_every=tr["eval_every"],
            save_every=tr["save_every"],
            load_checkpoint_path=ctx.load_checkpoint,
            renderer_name=model["renderer"],
            kl_penalty_coef=kl,
            kl_discount_factor=tr["kl_discount"],
            kl_reference_config=train.KLReferenceConfig(base_model=model["name"]) if kl > 0 else None,
            loss_fn=tr["loss"],
            num_substeps=tr["num_substeps"],
            lora_rank=model["lora_rank"],
            temperature=ro["temperature"],
            base_url=ctx.base_url,
            max_steps=tr["max_steps"],
        ),
    )
    return Stage("train", config, lambda: asyncio.run(train.main(config)), expected_steps(known_batches(recipe), 1, tr["max_steps"]))
