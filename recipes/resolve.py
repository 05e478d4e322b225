"""Resolution: validated recipe data (no errors) as the typed settings, built once. What the
recipe leaves for the cookbook to pick is filled in here: model.renderer from
tinker_cookbook.model_info, and for workflow "cookbook" the model its entry trains."""

from __future__ import annotations

from typing import Any

from cookbook_tui.recipes.defaults import entry_model, recommended_renderer
from cookbook_tui.recipes.schema import COOKBOOK_WORKFLOW, RecipeSettings


def resolve(data: dict[str, Any], *, in_process: bool) -> tuple[RecipeSettings, str | None]:
    """(the settings, the entry module's model or None) for data the validator passed; sections
    absent from the text keep their defaults (the models' own), [warmup] stays None unless given.
    `in_process`: whether the entry's CLIConfig may be read in this process (chz_schema)."""
    values = dict(data)
    model = values.get("model")
    if isinstance(model, dict) and model.get("renderer") is None:
        renderer = recommended_renderer(model["name"])
        assert renderer is not None, "the validator reports a model model_info has no renderer for"
        values["model"] = {**model, "renderer": renderer}
    student = None
    if values.get("workflow") == COOKBOOK_WORKFLOW:
        student = entry_model(values["entry"], values.get("config", {}), in_process=in_process)
    return RecipeSettings.model_validate(values), student
