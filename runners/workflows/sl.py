"""`workflow = "sl"`: tinker-cookbook's supervised loop (supervised/train.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from tinker_cookbook.supervised import train
from tinker_cookbook.supervised.data import FromConversationFileBuilder, HFDatasetSource, InterleavedChatDatasetBuilder
from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig, SupervisedDatasetBuilder

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import HUB_DATASETS
from cookbook_tui.runners.samples import heldout_from_datums
from cookbook_tui.runners.workflows import common
from cookbook_tui.runners.workflows.common import Stage, StageContext, construct, load_entry_point
from cookbook_tui.runners.workflows.datasets import materialize_jsonl, read_rows


def common_config(recipe: Recipe, batch_size: int, train_on_what: str | None) -> ChatDatasetBuilderCommonConfig:
    return ChatDatasetBuilderCommonConfig(
        model_name_for_tokenizer=recipe.model.name,
        renderer_name=recipe.renderer,
        max_length=recipe.dataset.max_length,
        batch_size=batch_size,
        train_on_what=common.train_on(train_on_what),
    )


def chat_dataset_builder(recipe: Recipe, ctx: StageContext) -> SupervisedDatasetBuilder:
    ds = recipe.dataset
    config = common_config(recipe, ds.batch_size, ds.train_on)
    if ds.path:
        path = materialize_jsonl(recipe.data_path(ds.path), ctx.run_dir / "data")
        return FromConversationFileBuilder(
            common_config=config, file_path=str(path), test_size=ds.test_size, shuffle_seed=ds.shuffle_seed
        )
    if ds.hub:
        known = HUB_DATASETS["sl"].get(ds.hub)
        if known:
            return load_entry_point(known)(common_config=config)
        return InterleavedChatDatasetBuilder(
            common_config=config,
            sources=[HFDatasetSource(path=ds.hub, split=ds.split)],
            test_size=ds.test_size,
            shuffle_seed=ds.shuffle_seed,
        )
    assert ds.builder is not None  # the validator asks for exactly one of path, hub, builder
    return construct(load_entry_point(ds.builder), ds.options, {"common_config": config})


def heldout_sampler_builder(recipe: Recipe, ctx: StageContext, builder: SupervisedDatasetBuilder, stride: int = 1):
    """The samples hook for sl and dpo: held-out examples of the dataset's own test split."""

    def prompts(renderer):
        _, test = builder()
        return heldout_from_datums(test.get_batch(0), renderer, stride) if test is not None else []

    return common.heldout_sampler_factory(recipe, ctx, prompts)


def supervised_fields(recipe: Recipe, ctx: StageContext, builder: SupervisedDatasetBuilder, stride: int = 1) -> dict[str, Any]:
    """The Config fields sl and dpo set the same way (`schema._SUPERVISED`); `stride` picks the
    held-out examples to sample (dpo: every second, the chosen ones)."""
    training = recipe.training
    evaluators = [heldout_sampler_builder(recipe, ctx, builder, stride)] if recipe.dataset.test_size else []
    return dict(
        common.shared_fields(recipe, ctx),
        dataset_builder=builder,
        lr_schedule=training.lr_schedule,
        num_epochs=training.num_epochs,
        infrequent_evaluator_builders=evaluators,
        infrequent_eval_every=recipe.samples.every,
        adam_beta1=training.adam_beta1,
        adam_beta2=training.adam_beta2,
        adam_eps=training.adam_eps,
    )


def supervised_steps(recipe: Recipe) -> int | None:
    """Steps of an sl or dpo run: a local file's batches (held-out rows aside) times the epochs,
    capped by max_steps; unknown for hub data and builders without max_steps."""
    ds, training = recipe.dataset, recipe.training
    rows = len(read_rows(recipe.data_path(ds.path))) if ds.path else None
    n_batches = (rows - (ds.test_size if rows > ds.test_size else 0)) // ds.batch_size if rows else None
    return common.expected_steps(n_batches, training.num_epochs, training.max_steps)


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    builder = chat_dataset_builder(recipe, ctx)
    config = common.make_config(recipe, train.Config, supervised_fields(recipe, ctx, builder))
    return Stage("train", config, lambda: asyncio.run(train.main(config)), supervised_steps(recipe))
