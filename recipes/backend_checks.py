"""Cheap checks of what running needs from this machine and the cookbook: a renderer for the
model (model_info's recommendation when model.renderer is left out), TINKER_API_KEY for the
Tinker service, model folders for the local engine. The hub lookups are deep (deep_checks.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME
from cookbook_tui.recipes.checker import Checker
from cookbook_tui.recipes.defaults import entry_model, recommended_renderer
from cookbook_tui.recipes.schema import COOKBOOK_WORKFLOW, RENDERERS
from cookbook_tui.recipes.structure import RecipeView

MISSING_KEY_MESSAGE = (
    "backend \"tinker\" needs the TINKER_API_KEY environment variable to run "
    "(or use backend = \"local\" to train on this machine)"
)


def check_renderer(chk: Checker, view: RecipeView) -> None:
    """model.renderer left out: tinker_cookbook.model_info must recommend one for the model."""
    model = view.section("model")
    name = model.get("name")
    if not isinstance(name, str) or model.get("renderer") is not None:
        return
    try:
        renderer = recommended_renderer(name)
    except Exception as exc:  # model_info failed in a way it does not document: say how
        chk.add("model.renderer", f"cannot ask tinker_cookbook.model_info for {name!r}'s renderer: {type(exc).__name__}: {exc}")
        return
    if renderer is None:
        chk.add(
            "model.renderer",
            f"tinker_cookbook.model_info has no renderer for {name!r}: set model.renderer to one of "
            + ", ".join(RENDERERS),
        )


def _local_model_problem(name: str) -> tuple[bool, str | None]:
    """(needs a hub lookup, problem) for a model the local engine must load."""
    if name == TINY_MODEL_NAME:
        return False, None
    if Path(name).expanduser().is_dir():
        return False, None
    if name.startswith(("/", "./", "../", "~")):
        return False, f"model folder not found: {name}"
    return True, None


def local_models(chk: Checker, view: RecipeView, in_process: bool) -> list[tuple[str, str]]:
    """(field, model name) for each model the local engine loads: the student (a cookbook entry's
    [config].model_name or its CLIConfig default; unknown while `entry` has an error) and
    distill's teacher."""
    if view.workflow == COOKBOOK_WORKFLOW:
        config, entry = view.section("config"), view.values.get("entry")
        field = "config.model_name" if "model_name" in config else "entry"
        student = None
        if isinstance(entry, str) and not chk.has_error("entry"):  # else check_cookbook_tables reported it
            student = entry_model(entry, config, in_process=in_process)
        models: list[tuple[str, Any]] = [(field, student)]
    else:
        models = [("model.name", view.section("model").get("name"))]
    if view.workflow == "distill":
        models.append(("teacher.model", view.section("teacher").get("model")))
    return [(field, name) for field, name in models if isinstance(name, str) and name]


def check_backend(chk: Checker, view: RecipeView, environ: Mapping[str, str], in_process: bool) -> None:
    backend = view.values.get("backend")
    if backend == "tinker" and not environ.get("TINKER_API_KEY"):
        # The recipe is fine; the environment is not ready to run it (`--run` refuses).
        chk.add("backend", MISSING_KEY_MESSAGE, severity="warning")
    if backend == "local":
        for field, name in local_models(chk, view, in_process):
            problem = _local_model_problem(name)[1]
            if problem:
                chk.add(field, problem, at_value=True)


def local_models_from_hub(chk: Checker, view: RecipeView, in_process: bool) -> list[tuple[str, str]]:
    """The local backend's models that are not folders here: the hub must have them."""
    if view.values.get("backend") != "local":
        return []
    return [(field, name) for field, name in local_models(chk, view, in_process) if _local_model_problem(name)[0]]
