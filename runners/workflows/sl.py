"""`workflow = "sl"`: tinker-cookbook's supervised loop (supervised/train.py)."""

from __future__ import annotations

import asyncio

from tinker_cookbook.supervised import train
from tinker_cookbook.supervised.data import FromConversationFileBuilder, HFDatasetSource, InterleavedChatDatasetBuilder
from tinker_cookbook.supervised.types import ChatDatasetBuilderCommonConfig, SupervisedDatasetBuilder

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import HUB_DATASETS
from cookbook_tui.runners.samples import heldout_from_datums
from cookbook_tui.runners.workflows.common import (
    Stage,
    StageContext,
    construct,
    expected_steps,
    heldout_sampler_factory,
    learning_rate,
    load_entry_point,
    make_config,
    train_on,
)
from cookbook_tui.runners.workflows.datasets import materialize_jsonl, read_rows


def common_config(recipe: Recipe, batch_size: int, train_on_what: str | None) -> ChatDatasetBuilderCommonConfig:
    model = recipe.section("model")
    return ChatDatasetBuilderCommonConfig(
        model_name_for_tokenizer=model["name"],
        renderer_name=model["renderer"],
        max_length=recipe.section("dataset").get("max_length"),
        batch_size=batch_size,
        train_on_what=train_on(train_on_what),
    )


def chat_dataset_builder(recipe: Recipe, ctx: StageContext) -> SupervisedDatasetBuilder:
    ds = recipe.section("dataset")
    common = common_config(recipe, ds["batch_size"], ds["train_on"])
    if ds.get("path"):
        path = materialize_jsonl(recipe.data_path(ds["path"]), ctx.run_dir / "data")
        return FromConversationFileBuilder(
            common_config=common, file_path=str(path), test_size=ds["test_size"], shuffle_seed=ds["shuffle_seed"]
        )
    if ds.get("hub"):
        known = HUB_DATASETS["sl"].get(ds["hub"])
        if known:
            return load_entry_point(known)(common_config=common)
        return InterleavedChatDatasetBuilder(
            common_config=common,
            sources=[HFDatasetSource(path=ds["hub"], split=ds["split"])],
            test_size=ds["test_size"],
            shuffle_seed=ds["shuffle_seed"],
        )
    return construct(load_entry_point(ds["builder"]), ds["options"], {"common_config": common})


def file_rows(recipe: Recipe) -> int | None:
    path = recipe.section("dataset").get("path")
    return len(read_rows(recipe.data_path(path))) if path else None


def heldout_sampler_builder(recipe: Recipe, ctx: StageContext, builder: SupervisedDatasetBuilder, stride: int = 1):
    """The samples hook for sl and dpo: held-out examples of the dataset's own test split."""

    def prompts(renderer):
        _, test = builder()
        return heldout_from_datums(test.get_batch(0), renderer, stride) if test is not None else []

    return heldout_sampler_factory(recipe, ctx, prompts)


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, ds, tr = recipe.section("model"), recipe.section("dataset"), recipe.section("training")
    builder = chat_dataset_builder(recipe, ctx)
    config = make_config(
        recipe,
        train.Config,
        dict(
            log_path=str(ctx.log_path),
            model_name=model["name"],
            recipe_name=recipe.name,
            load_checkpoint_path=ctx.load_checkpoint,
            renderer_name=model["renderer"],
            dataset_builder=builder,
            learning_rate=learning_rate(recipe),
            lr_schedule=tr["lr_schedule"],
            num_epochs=tr["num_epochs"],
            lora_rank=model["lora_rank"],
            base_url=ctx.base_url,
            save_every=tr["save_every"],
            eval_every=tr["eval_every"],
            infrequent_evaluator_builders=[heldout_sampler_builder(recipe, ctx, builder)] if ds["test_size"] else [],
            infrequent_eval_every=recipe.section("samples")["every"],
            adam_beta1=tr["adam_beta1"],
            adam_beta2=tr["adam_beta2"],
            adam_eps=tr["adam_eps"],
            max_steps=tr["max_steps"],
        ),
    )
    rows = file_rows(recipe)
    n_batches = (rows - (ds["test_size"] if rows > ds["test_size"] else 0)) // ds["batch_size"] if rows else None
    return Stage("train", config, lambda: asyncio.run(train.main(config)), expected_steps(n_batches, tr["num_epochs"], tr["max_steps"]))
