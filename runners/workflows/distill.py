"""`workflow = "distill"`: tinker-cookbook's on-policy distillation loop
(distillation/train_on_policy.py): the student samples, the teacher's logprobs grade each token."""

from __future__ import annotations

import asyncio
import math

from tinker_cookbook.distillation import train_on_policy
from tinker_cookbook.distillation.datasets import DistillationDatasetConfig, PromptOnlyDatasetBuilder, TeacherConfig

from cookbook_tui.recipes import Recipe
from cookbook_tui.recipes.schema import HUB_DATASETS
from cookbook_tui.runners.samples import HeldoutPrompt, RecordingRLDatasetBuilder
from cookbook_tui.runners.workflows.common import (
    Stage,
    StageContext,
    construct,
    expected_steps,
    heldout_sampler_factory,
    learning_rate,
    load_entry_point,
    make_config,
)
from cookbook_tui.runners.workflows.datasets import (
    PromptFileDatasetBuilder,
    materialize_jsonl,
    prompt_messages,
    reference_answer,
)


def prompts_builder(recipe: Recipe, ctx: StageContext):
    model, ds, ro = recipe.section("model"), recipe.section("dataset"), recipe.section("rollouts")
    standard = {
        "groups_per_batch": ro["groups_per_batch"],
        "group_size": ro["group_size"],
        "model_name_for_tokenizer": model["name"],
        "renderer_name": model["renderer"],
    }
    if ds.get("path"):
        path = materialize_jsonl(recipe.data_path(ds["path"]), ctx.run_dir / "data")
        return PromptFileDatasetBuilder(
            file_path=str(path), test_size=ds["test_size"], shuffle_seed=ds["shuffle_seed"], **standard
        )
    if ds.get("hub"):
        return PromptOnlyDatasetBuilder(dataset_name=HUB_DATASETS["distill"][ds["hub"]], **standard)
    return construct(load_entry_point(ds["builder"]), ds["options"], standard)


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, ro, tr = recipe.section("model"), recipe.section("rollouts"), recipe.section("training")
    samples, teacher = recipe.section("samples"), recipe.section("teacher")
    prompts = prompts_builder(recipe, ctx)
    evaluators = []
    if isinstance(prompts, PromptFileDatasetBuilder) and prompts.test_size:

        def heldout(renderer) -> list[HeldoutPrompt]:
            _, test = prompts.split()
            return [
                HeldoutPrompt(renderer.build_generation_prompt(prompt_messages(row)), reference_answer(row))
                for row in test
            ]

        evaluators.append(heldout_sampler_factory(recipe, ctx, heldout))
    config = make_config(
        recipe,
        train_on_policy.Config,
        dict(
            learning_rate=learning_rate(recipe),
            dataset_configs=[
                DistillationDatasetConfig(
                    dataset_builder=RecordingRLDatasetBuilder(
                        inner=prompts,
                        run_dir=str(ctx.run_dir),
                        model_name_for_tokenizer=model["name"],
                        per_step=samples["count"],
                    ),
                    teacher_config=TeacherConfig(
                        base_model=teacher["model"] or model["name"], load_checkpoint_path=ctx.teacher_checkpoint
                    ),
                    groups_per_batch=ro["groups_per_batch"],
                )
            ],
            model_name=model["name"],
            recipe_name=recipe.name,
            renderer_name=model["renderer"],
            max_tokens=ro["max_tokens"],
            temperature=ro["temperature"],
            evaluator_builders=evaluators,
            lora_rank=model["lora_rank"],
            kl_penalty_coef=1.0 if tr["kl_penalty"] is None else tr["kl_penalty"],
            kl_discount_factor=tr["kl_discount"],
            loss_fn=tr["loss"],
            num_substeps=tr["num_substeps"],
            log_path=str(ctx.log_path),
            base_url=ctx.base_url,
            # The loop runs its evaluators every eval_every steps; ours is the samples hook.
            eval_every=samples["every"] if evaluators else tr["eval_every"],
            save_every=tr["save_every"],
            load_checkpoint_path=ctx.load_checkpoint,
            max_steps=tr["max_steps"],
        ),
    )
    n_batches = None
    if isinstance(prompts, PromptFileDatasetBuilder):
        n_batches = math.ceil(len(prompts.split()[0]) / ro["groups_per_batch"])
    return Stage("train", config, lambda: asyncio.run(train_on_policy.main(config)), expected_steps(n_batches, 1, tr["max_steps"]))
