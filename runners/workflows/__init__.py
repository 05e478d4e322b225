"""Validated recipe -> tinker-cookbook config, one module per workflow; the cookbook trains."""

from __future__ import annotations

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.workflows.common import Stage, StageContext


def build_stage(recipe: Recipe, ctx: StageContext) -> Stage:
    """The main stage's config for `recipe.workflow` (imports only that workflow's cookbook loop)."""
    if recipe.workflow == "sl":
        from cookbook_tui.runners.workflows import sl as module
    elif recipe.workflow in ("rl", "multiturn_rl"):
        from cookbook_tui.runners.workflows import rl as module
    elif recipe.workflow == "dpo":
        from cookbook_tui.runners.workflows import dpo as module
    elif recipe.workflow == "distill":
        from cookbook_tui.runners.workflows import distill as module
    elif recipe.workflow == "cookbook":
        from cookbook_tui.runners.workflows import cookbook as module
    else:  # the validator only lets the names above through
        raise ValueError(f"unknown workflow {recipe.workflow!r}")
    return module.build(recipe, ctx)


def build_warmup(recipe: Recipe, ctx: StageContext) -> Stage:
    from cookbook_tui.runners.workflows import warmup

    return warmup.build(recipe, ctx)


__all__ = ["Stage", "StageContext", "build_stage", "build_warmup"]
