"""`workflow = "dpo"`: tinker-cookbook's DPO loop (preference/train_dpo.py)."""

from __future__ import annotations

from tinker_cookbook.preference import train_dpo
from tinker_cookbook.preference.dpo_datasets import DPODatasetBuilderFromComparisons

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import HUB_DATASETS
from cookbook_tui.runners.workflows.common import Stage, StageContext, construct, load_entry_point, make_config
from cookbook_tui.runners.workflows.datasets import ComparisonFileBuilder, materialize_jsonl
from cookbook_tui.runners.workflows.sl import common_config, supervised_fields, supervised_steps


def comparison_builder(recipe: Recipe, ctx: StageContext):
    ds = recipe.dataset
    if ds.path:
        path = materialize_jsonl(recipe.data_path(ds.path), ctx.run_dir / "data")
        return ComparisonFileBuilder(train_path=str(path), test_size=ds.test_size, shuffle_seed=ds.shuffle_seed)
    if ds.hub:
        return load_entry_point(HUB_DATASETS["dpo"][ds.hub])()
    assert ds.builder is not None  # the validator asks for exactly one of path, hub, builder
    return construct(load_entry_point(ds.builder), ds.options, {})


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    builder = DPODatasetBuilderFromComparisons(
        common_config=common_config(recipe, recipe.dataset.batch_size, recipe.dataset.train_on),
        comparison_builder=comparison_builder(recipe, ctx),
    )
    # Held-out pairs interleave chosen (even) and rejected (odd): sample the chosen prompts.
    fields = supervised_fields(recipe, ctx, builder, stride=2)
    fields.update(dpo_beta=recipe.dpo.beta, reference_model_name=recipe.dpo.reference_model)
    config = make_config(recipe, train_dpo.Config, fields)
    return Stage("train", config, lambda: train_dpo.main(config), supervised_steps(recipe))
