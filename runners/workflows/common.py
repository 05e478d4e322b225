"""What every workflow module shares: the stage it returns and the context it is built in."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinker_cookbook.renderers import TrainOnWhat

from cookbook_tui.recipes import Recipe


@dataclass(frozen=True)
class StageContext:
    """Where and against what a stage runs.

    `log_path` is the cookbook loop's run dir (the run dir itself, or run_dir/warmup);
    `load_checkpoint` and `teacher_checkpoint` are tinker:// paths already resolved (a "warmup"
    reference replaced by the warmup stage's final checkpoint).
    """

    run_dir: Path
    log_path: Path
    base_url: str | None
    load_checkpoint: str | None = None
    teacher_checkpoint: str | None = None
    start_step: int = 0


@dataclass(frozen=True)
class Stage:
    """A tinker-cookbook config ready to run: `run()` calls the cookbook's own loop with it."""

    name: str
    config: Any
    run: Callable[[], None]
    expected_steps: int | None
    # workflow "cookbook": the equivalent `python -m ENTRY key=value …` (shown by the dry run).
    command: list[str] | None = None


def load_entry_point(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def construct(cls: Any, options: dict[str, Any], standard: dict[str, Any]) -> Any:
    """Build a user's (or the cookbook's) builder: the recipe's options, plus whichever of the
    standard arguments (batch size, tokenizer model, renderer, …) its signature accepts."""
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in standard.items() if takes_any or k in params}
    kwargs.update(options)
    return cls(**kwargs)


def train_on(value: str | None) -> TrainOnWhat | None:
    return TrainOnWhat(value) if value else None


def expected_steps(n_batches: int | None, epochs: int, max_steps: int | None) -> int | None:
    total = n_batches * epochs if n_batches is not None else None
    if max_steps is not None:
        total = max_steps if total is None else min(total, max_steps)
    return total


def heldout_sampler_factory(recipe: Recipe, ctx: StageContext, prompts: Callable[[Any], list]) -> Callable[[], Any]:
    """The samples hook (an evaluator builder for the cookbook): greedy completions on the
    held-out prompts `prompts(renderer)` returns, every `[samples].every` steps."""
    from cookbook_tui.runners.samples import HeldoutSampler

    samples, model = recipe.samples, recipe.model
    return lambda: HeldoutSampler(
        prompts=prompts,
        model_name=model.name,
        renderer_name=recipe.renderer,
        run_dir=ctx.run_dir,
        start_step=ctx.start_step,
        every=samples.every,
        count=samples.count,
        max_tokens=samples.max_tokens,
    )


def learning_rate(recipe: Recipe) -> float:
    """training.learning_rate, with "auto" as tinker-cookbook's get_lr for the model (LoRA)."""
    value = recipe.training.learning_rate
    if value != "auto":
        return value
    from tinker_cookbook import hyperparam_utils

    from cookbook_tui.runners.tiny_model_cookbook import register_with_cookbook

    register_with_cookbook()  # get_lr knows the tiny model inside runner processes
    return hyperparam_utils.get_lr(recipe.model_name)


def shared_fields(recipe: Recipe, ctx: StageContext) -> dict[str, Any]:
    """The Config fields every curated workflow sets the same way (`schema._SHARED`)."""
    model, training = recipe.model, recipe.training
    return dict(
        log_path=str(ctx.log_path),
        model_name=model.name,
        recipe_name=recipe.name,
        load_checkpoint_path=ctx.load_checkpoint,
        renderer_name=recipe.renderer,
        lora_rank=model.lora_rank,
        learning_rate=learning_rate(recipe),
        save_every=training.save_every,
        eval_every=training.eval_every,
        max_steps=training.max_steps,
        base_url=ctx.base_url,
    )


def rollout_fields(recipe: Recipe) -> dict[str, Any]:
    """The sampling and RL-loss fields rl and distill set the same way (`schema._ROLLOUTS`, but
    kl_penalty_coef, whose default differs)."""
    rollouts, training = recipe.rollouts, recipe.training
    return dict(
        max_tokens=rollouts.max_tokens,
        temperature=rollouts.temperature,
        kl_discount_factor=training.kl_discount,
        loss_fn=training.loss,
        num_substeps=training.num_substeps,
    )


def builder_arguments(recipe: Recipe) -> dict[str, Any]:
    """What an RL or prompt dataset builder is given besides its batch size (`construct` passes
    those its signature accepts)."""
    model = recipe.model
    return {
        "group_size": recipe.rollouts.group_size,
        "model_name_for_tokenizer": model.name,
        "renderer_name": recipe.renderer,
    }


def chz_values(fields: dict[str, Any], schema: Any, prefix: str = "") -> dict[str, Any]:
    """A `[cookbook]`/`[config]` table as chz Blueprint arguments: a sub-table for a nested chz
    config becomes dotted keys (`async_config.max_steps_off_policy`); a table for a dict-typed
    field (`loss_fn_config`) stays a dict."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        spec = schema.fields.get(key) if schema is not None else None
        if isinstance(value, dict) and spec is not None and spec.nested is not None:
            out.update(chz_values(value, spec.nested, f"{prefix}{key}."))
        elif isinstance(value, str) and spec is not None and not {"str", "literal", "any"} & set(spec.kinds):
            import chz

            out[f"{prefix}{key}"] = chz.Castable(value)  # "package.module:Name" for a class-typed field
        elif isinstance(value, list) and spec is not None and spec.type.startswith("tuple"):
            out[f"{prefix}{key}"] = tuple(value)
        else:
            out[f"{prefix}{key}"] = value
    return out


def make_config(recipe: Recipe, config_cls: type, kwargs: dict[str, Any]) -> Any:
    """The workflow's cookbook Config: our sections' values (`kwargs`), plus the recipe's
    `[cookbook]` table for every other field, built by chz itself (so nested configs, defaults
    and chz's own type checks apply)."""
    import chz

    from cookbook_tui.recipes.chz_schema import schema_for
    from cookbook_tui.recipes.schema import COOKBOOK_CONFIGS

    spec = COOKBOOK_CONFIGS[recipe.workflow]
    undeclared = set(kwargs) - set(spec.owned)
    if undeclared:  # the validator refuses [cookbook] keys by that table: keep it true
        raise AssertionError(f"workflow {recipe.workflow} sets {sorted(undeclared)}: declare them in schema.COOKBOOK_CONFIGS")
    extra = recipe.cookbook_fields
    values = dict(kwargs)
    if extra:
        values.update(chz_values(extra, schema_for(spec.target, in_process=True)))
    return chz.Blueprint(config_cls).apply(values).make()
