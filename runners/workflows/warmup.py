"""The `[warmup]` stage: a short supervised run (tinker-cookbook's SFT loop) into run_dir/warmup,
whose final checkpoint the main stage starts from or distills toward."""

from __future__ import annotations

import asyncio

from tinker_cookbook.supervised import train
from tinker_cookbook.supervised.data import FromConversationFileBuilder
from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.workflows.common import Stage, StageContext, train_on

WARMUP_DIR = "warmup"


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, warm = recipe.model, recipe.warmup
    assert warm is not None  # the runner builds this stage only for a recipe with [warmup]
    builder = FromConversationFileBuilder(
        common_config=ChatDatasetBuilderCommonConfig(
            model_name_for_tokenizer=model.name,
            renderer_name=recipe.renderer,
            max_length=None,
            batch_size=warm.batch_size,
            train_on_what=train_on(warm.train_on),
        ),
        file_path=str(recipe.data_path(warm.path)),
    )
    config = train.Config(
        log_path=str(ctx.log_path),
        model_name=model.name,
        recipe_name=f"{recipe.name}-warmup",
        renderer_name=recipe.renderer,
        dataset_builder=builder,
        learning_rate=warm.learning_rate,
        lr_schedule="constant",
        # Enough epochs that `steps` decides the length, however small the file.
        num_epochs=warm.steps,
        lora_rank=model.lora_rank,
        base_url=ctx.base_url,
        # A checkpoint only where the recipe names one ("warmup:N"); the final one always.
        save_every=recipe.warmup_mid_step or 0,
        eval_every=0,
        max_steps=warm.steps,
    )
    return Stage("warmup", config, lambda: asyncio.run(train.main(config)), warm.steps)
