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
from cookbook_tui.runners.workflows import common
from cookbook_tui.runners.workflows.common import Stage, StageContext
from cookbook_tui.runners.workflows.datasets import (
    PromptFileDatasetBuilder,
    materialize_jsonl,
    prompt_messages,
    reference_answer,
)


def prompts_builder(recipe: Recipe, ctx: StageContext):
    ds = recipe.dataset
    standard = dict(common.builder_arguments(recipe), groups_per_batch=recipe.rollouts.groups_per_batch)
    if ds.path:
        path = materialize_jsonl(recipe.data_path(ds.path), ctx.run_dir / "data")
        return PromptFileDatasetBuilder(
            file_path=str(path), test_size=ds.test_size, shuffle_seed=ds.shuffle_seed, **standard
        )
    if ds.hub:
        return PromptOnlyDatasetBuilder(dataset_name=HUB_DATASETS["distill"][ds.hub], **standard)
    assert ds.builder is not None  # the validator asks for exactly one of path, hub, builder
    return common.construct(common.load_entry_point(ds.builder), ds.options, standard)


def build(recipe: Recipe, ctx: StageContext) -> Stage:
    model, training, samples = recipe.model, recipe.training, recipe.samples
    prompts = prompts_builder(recipe, ctx)
    evaluators = []
    if isinstance(prompts, PromptFileDatasetBuilder) and prompts.test_size:

        def heldout(renderer) -> list[HeldoutPrompt]:
            _, test = prompts.split()
            return [
                HeldoutPrompt(renderer.build_generation_prompt(prompt_messages(row)), reference_answer(row))
                for row in test
            ]

        evaluators.append(common.heldout_sampler_factory(recipe, ctx, heldout))
    teacher = TeacherConfig(
        base_model=recipe.teacher.model or model.name, load_checkpoint_path=ctx.teacher_checkpoint
    )
    dataset = DistillationDatasetConfig(
        dataset_builder=RecordingRLDatasetBuilder(
            inner=prompts, run_dir=str(ctx.run_dir), model_name_for_tokenizer=model.name, per_step=samples.count
        ),
        teacher_config=teacher,
        groups_per_batch=recipe.rollouts.groups_per_batch,
    )
    fields = dict(
        common.shared_fields(recipe, ctx),
        **common.rollout_fields(recipe),
        dataset_configs=[dataset],
        evaluator_builders=evaluators,
        kl_penalty_coef=1.0 if training.kl_penalty is None else training.kl_penalty,
    )
    # The loop runs its evaluators every eval_every steps; ours is the samples hook.
    fields["eval_every"] = samples.every if evaluators else training.eval_every
    config = common.make_config(recipe, train_on_policy.Config, fields)
    n_batches = None
    if isinstance(prompts, PromptFileDatasetBuilder):
        n_batches = math.ceil(len(prompts.split()[0]) / recipe.rollouts.groups_per_batch)
    steps = common.expected_steps(n_batches, 1, training.max_steps)
    return Stage("train", config, lambda: asyncio.run(train_on_policy.main(config)), steps)
