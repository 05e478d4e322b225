"""`workflow = "dpo"`: tinker-cookbook's DPO loop (preference/train_dpo.py)."""

from __future__ import annotations

from tinker_cookbook.preference import train_dpo
from tinker_cookbook.preference.dpo_datasets import DPODatasetBuilderFromComparisons

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import HUB_DATASETS
from cookbook_tui.runners.workflows.common import (
    Stage,
    StageContext,
    construct,
    expected_steps,
    learning_rate,
    load_entry_point,
    make_config,
)
from cookbook_tui.runners.workflows.datasets import ComparisonFileBuilder, materialize_jsonl
from cookbook_tui.runners.workflows.sl import common_config, file_rows, heldout_sampler_builder


def comparison_builder(recipe: Recipe, ctx: StageContext):
    ds = recipe.section("dataset")
    if ds.get("path"):
        path = materialize_jsonl(recipe.data_path(ds["path"]), ctx.run_dir / "data")
        return ComparisonFileBuilder(train_path=str(path), test_size=ds["test_size"], shuffle_seed=ds["shuffle_seed"])
    if ds.get("hub"):
        return load_entry_point(HUB_DATASETS["dpo"][ds["hub"]])()
    return construct(load_entry_point(ds["builder"]), ds["options"], {})


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, ds, tr = recipe.section("model"), recipe.section("dataset"), recipe.section("training")
    builder = DPODatasetBuilderFromComparisons(
        common_config=common_config(recipe, ds["batch_size"], ds["train_on"]),
        comparison_builder=comparison_builder(recipe, ctx),
    )
    config = make_config(
        recipe,
        train_dpo.Config,
        dict(
            log_path=str(ctx.log_path),
            model_name=model["name"],
            recipe_name=recipe.name,
            dataset_builder=builder,
            load_checkpoint_path=ctx.load_checkpoint,
            renderer_name=model["renderer"],
            learning_rate=learning_rate(recipe),
            lr_schedule=tr["lr_schedule"],
            num_epochs=tr["num_epochs"],
            dpo_beta=recipe.section("dpo")["beta"],
            lora_rank=model["lora_rank"],
            base_url=ctx.base_url,
            # Held-out pairs interleave chosen (even) and rejected (odd): sample the chosen prompts.
            infrequent_evaluator_builders=[heldout_sampler_builder(recipe, ctx, builder, stride=2)] if ds["test_size"] else [],
            infrequent_eval_every=recipe.section("samples")["every"],
            save_every=tr["save_every"],
            eval_every=tr["eval_every"],
            adam_beta1=tr["adam_beta1"],
            adam_beta2=tr["adam_beta2"],
            adam_eps=tr["adam_eps"],
            reference_model_name=recipe.section("dpo")["reference_model"],
            max_steps=tr["max_steps"],
        ),
    )
    rows = file_rows(recipe)
    n_batches = (rows - (ds["test_size"] if rows > ds["test_size"] else 0)) // ds["batch_size"] if rows else None
    return Stage("train", config, lambda: train_dpo.main(config), expected_steps(n_batches, tr["num_epochs"], tr["max_steps"]))
