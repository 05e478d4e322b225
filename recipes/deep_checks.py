"""Checks that may take seconds, run by `check_deep` after the cheap ones: entry points are
imported, hub datasets and models are looked up (cache first, then the hub, concurrently, each
within its deadline: recipes/hub.py), learning_rate = "auto" is asked of get_lr. A field the
cheap checks found wrong is not looked at again."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME
from cookbook_tui.recipes.backend_checks import local_models_from_hub
from cookbook_tui.recipes.checker import Checker
from cookbook_tui.recipes.hub import check_hub_repo
from cookbook_tui.recipes.needs import DATASET_SOURCES, ENV_SOURCES, single_source
from cookbook_tui.recipes.schema import BUNDLED_ENVS, DATASET_WORKFLOWS, ENV_WORKFLOWS
from cookbook_tui.recipes.structure import RecipeView


def check_deep_needs(chk: Checker, view: RecipeView) -> None:
    for field, value in _entry_points(view):
        if not chk.has_error(field):
            _check_import(chk, field, value)
    _check_auto_learning_rate(chk, view)
    _check_hub(chk, view, [item for item in _hub_repos(chk, view) if not chk.has_error(item[0])])


def _source(view: RecipeView, section: str, sources: tuple[str, ...], key: str) -> str | None:
    """The value of `section.key` when it is the section's one source of data, else None."""
    values = view.section(section)
    value = values.get(key)
    return value if single_source(values, sources) == key and isinstance(value, str) else None


def _entry_points(view: RecipeView) -> list[tuple[str, str]]:
    found = []
    if view.workflow in DATASET_WORKFLOWS and (builder := _source(view, "dataset", DATASET_SOURCES, "builder")):
        found.append(("dataset.builder", builder))
    if view.workflow in ENV_WORKFLOWS and (builder := _source(view, "env", ENV_SOURCES, "builder")):
        found.append(("env.builder", builder))
    return found


def _check_import(chk: Checker, field: str, value: str) -> None:
    module_name, _, attr = value.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way; report, don't crash
        chk.add(field, f"cannot import {module_name}: {type(exc).__name__}: {exc}", at_value=True)
        return
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            chk.add(field, f"{module_name} has no attribute {attr!r}", at_value=True)
            return
        target = getattr(target, part)


def _check_auto_learning_rate(chk: Checker, view: RecipeView) -> None:
    """learning_rate = "auto": the runner asks get_lr; say now when it has no value."""
    name = view.section("model").get("name")
    if view.section("training").get("learning_rate") != "auto" or not isinstance(name, str) or name == TINY_MODEL_NAME:
        return
    try:
        from tinker_cookbook.hyperparam_utils import get_lr

        get_lr(name)
    except Exception as exc:
        chk.add(
            "training.learning_rate",
            f"\"auto\": tinker_cookbook.hyperparam_utils.get_lr has no value for {name!r} "
            f"({type(exc).__name__}: {_first_line(exc)}); give a number",
            at_value=True,
            # The service may still know it; this machine may only lack the hub.
            severity="warning" if view.values.get("backend") == "tinker" else "error",
        )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _hub_repos(chk: Checker, view: RecipeView) -> list[tuple[str, str, str]]:
    """(field, repo, "dataset" | "model") for what the hub must have: a dataset named by
    dataset.hub or behind a bundled env, and the local backend's models."""
    repos: list[tuple[str, str, str]] = []
    workflow = view.workflow
    if workflow in DATASET_WORKFLOWS and (hub := _source(view, "dataset", DATASET_SOURCES, "hub")):
        repos.append(("dataset.hub", hub, "dataset"))
    if workflow in ENV_WORKFLOWS and (name := _source(view, "env", ENV_SOURCES, "name")):
        if hub_name := BUNDLED_ENVS[workflow].get(name):
            repos.append(("env.name", hub_name, "dataset"))
    repos += [(field, name, "model") for field, name in local_models_from_hub(chk, view, in_process=True)]
    return repos


def _check_hub(chk: Checker, view: RecipeView, repos: list[tuple[str, str, str]]) -> None:
    """A tinker-backend recipe only needs hub data at run time on this machine too, but the
    service holds the model: models are only looked up for the local backend, and unreachable
    data is an error for local runs and a warning when validating a tinker recipe offline."""
    if not repos:
        return
    with ThreadPoolExecutor(max_workers=len(repos)) as pool:
        answers = list(pool.map(lambda item: check_hub_repo(item[1], item[2]), repos))
    for (field, repo, repo_type), answer in zip(repos, answers):
        if answer.ok:
            continue
        unreachable = "no such" not in answer.reason
        severity = "warning" if view.values.get("backend") == "tinker" and unreachable else "error"
        chk.add(field, f"{repo_type} {repo!r}: {answer.reason}", at_value=True, severity=severity)
