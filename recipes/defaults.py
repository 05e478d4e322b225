"""What the cookbook picks for a value a recipe leaves out: the renderer tinker_cookbook.model_info
recommends for a model, and the model a workflow "cookbook" entry's CLIConfig trains by default.
The validator asks these to report a value nobody can pick; resolution (resolve.py) fills them in."""

from __future__ import annotations

import ast
from typing import Any

from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME, TINY_MODEL_RENDERER
from cookbook_tui.recipes.chz_schema import schema_for
from cookbook_tui.recipes.schema import entry_target


def recommended_renderer(model: str) -> str | None:
    """tinker_cookbook.model_info's first choice for `model` (a cheap import: no torch), or None
    where it has none: not "org/name", an unknown organisation or model (the errors it documents:
    ValueError, its ConfigurationError, KeyError). Anything else it raises is not caught."""
    if model == TINY_MODEL_NAME:  # registered with model_info inside runner processes only
        return TINY_MODEL_RENDERER
    from tinker_cookbook import model_info

    try:
        return model_info.get_recommended_renderer_name(model)
    except (ValueError, KeyError):
        return None


def entry_model(entry: str, config: dict[str, Any], *, in_process: bool) -> str | None:
    """workflow "cookbook": [config].model_name, else the default of the entry's
    CLIConfig.model_name (None: it has none). Raises SchemaUnavailable when the class cannot be read."""
    if "model_name" in config:
        return config["model_name"]
    field = schema_for(entry_target(entry), in_process=in_process).fields.get("model_name")
    return _unrepr(field.default) if field is not None and field.default else None


def _unrepr(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
