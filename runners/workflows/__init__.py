"""Validated recipe -> tinker-cookbook config, one module per workflow; the cookbook trains."""

from __future__ import annotations

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.workflows.common import Stage, StageContext


def build_stage(recipe: Recipe, ctx: StageContext) -> Stage:
    """The main stage's config for `recipe.workflow` (imports only that workflow's cookbook loop)."""
    if recipe.workflow == "sl":
        from cookbook_tui.runners.workflows import sl

        return sl.build(recipe, ctx)
    if recipe.workflow in ("rl", "multiturn_rl"):
        from cookbook_tui.runners.workflows import rl

        return rl.build(recipe, ctx)
    if recipe.workflow == "dpo":
        from cookbook_tui.runners.workflows import dpo

        return dpo.build(recipe, ctx)
    if recipe.workflow == "distill":
        from cookbook_tui.runners.workflows import distill

        return distill.build(recipe, ctx)
    if recipe.workflow == "cookbook":
        from cookbook_tui.runners.workflows import cookbook

        return cookbook.build(recipe, ctx)
    raise ValueError(f"unknown workflow {recipe.workflow!r}")  # the validator only lets the names above through


def build_warmup(recipe: Recipe, ctx: StageContext) -> Stage:
    from cookbook_tui.runners.workflows import warmup

    return warmup.build(recipe, ctx)


__all__ = ["Stage", "StageContext", "build_stage", "build_warmup"]
