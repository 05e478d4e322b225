"""[cookbook] and [config]: fields of a chz class read from the installed code (chz_schema.py),
checked by name, type and Literal choices; fields our own sections set are refused with the key
that sets them; workflow "cookbook"'s `entry` must name a module with a usable CLIConfig."""

from __future__ import annotations

import re
from typing import Any

from cookbook_tui.recipes.checker import Checker, did_you_mean, kind_of, not_one_of, show
from cookbook_tui.recipes.chz_schema import ENTRY_POINT_RE, ConfigField, ConfigSchema, SchemaUnavailable, schema_for
from cookbook_tui.recipes.schema import (
    COOKBOOK_CONFIGS,
    COOKBOOK_WORKFLOW,
    ENTRY_CONFIG_CLASS,
    RUN_DIR_FIELD,
    RUNNER_FIELDS,
    entry_target,
)
from cookbook_tui.recipes.structure import RecipeView

MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _accepts(spec: ConfigField, value: Any) -> bool:
    kind = kind_of(value)
    kinds = set(spec.kinds)
    if "any" in kinds:
        return True
    if kind == "int" and kinds & {"int", "float"}:
        return True
    if kind in ("bool", "float", "array") and kind in kinds:
        return True
    if kind == "table":
        return bool(kinds & {"table", "chz"})
    if kind == "str":
        if "str" in kinds or ("literal" in kinds and value in (spec.choices or ())):
            return True
        # chz casts "package.module:Name" to a class or object for object-typed fields.
        return bool(kinds & {"chz", "object"}) and bool(ENTRY_POINT_RE.match(value))
    return False


def _check_chz_value(chk: Checker, dotted: str, spec: ConfigField, value: Any) -> None:
    if isinstance(value, dict) and spec.nested is not None:
        _check_chz_table(chk, dotted, value, spec.nested, {})
        return
    if _accepts(spec, value):
        return
    if isinstance(value, str) and "literal" in spec.kinds and spec.choices:
        chk.add(dotted, not_one_of(value, [str(c) for c in spec.choices]), at_value=True)
        return
    chk.add(dotted, f"must be {spec.type}, got {show(value)}", at_value=True)


def _check_chz_table(
    chk: Checker, prefix: str, table: dict[str, Any], schema: ConfigSchema, refused: dict[str, str]
) -> None:
    for key, value in table.items():
        dotted = f"{prefix}.{key}"
        if key in refused:
            where = refused[key]
            hint = where if where.startswith("set by") else f"set it with {where} instead"
            chk.add(dotted, f"{schema.target.rpartition(':')[2]}.{key} is already set by this recipe: {hint}")
            continue
        spec = schema.fields.get(key)
        if spec is None:
            chk.add(dotted, f"{schema.target} has no field {key!r}{did_you_mean(key, list(schema.fields))}")
            continue
        _check_chz_value(chk, dotted, spec, value)
    missing = [f.name for f in schema.fields.values() if f.required and f.name not in table]
    if missing and table and prefix.count("."):  # a nested sub-table must give its required fields
        chk.add(prefix, f"needs {', '.join(missing)} ({schema.target})")


def _schema(chk: Checker, field: str, target: str, in_process: bool) -> ConfigSchema | None:
    # The TUI's editor asks a subprocess once, then the disk cache; the CLI and the runner read
    # the class in their own process (they import the cookbook anyway).
    try:
        return schema_for(target, in_process=in_process)
    except SchemaUnavailable as exc:
        chk.add(field, str(exc), at_value=True)
        return None


def tracker_installed() -> bool:
    """tinker-cookbook's ml_log sends `wandb_project` to W&B and to Trackio, whichever is
    installed, and silently to neither otherwise."""
    import importlib.util

    return any(importlib.util.find_spec(name) is not None for name in ("wandb", "trackio"))


def check_cookbook_tables(chk: Checker, view: RecipeView, in_process: bool) -> None:
    workflow = view.workflow
    table = "config" if workflow == COOKBOOK_WORKFLOW else "cookbook"
    if view.section(table).get("wandb_project") and not tracker_installed():
        chk.add(
            f"{table}.wandb_project",
            "needs a tracker: pip install 'cookbook-tui[wandb]' (Weights & Biases) "
            "or 'cookbook-tui[trackio]' (Trackio, local)",
            at_value=True,
        )
    if workflow in COOKBOOK_CONFIGS and view.section("cookbook"):
        spec = COOKBOOK_CONFIGS[workflow]
        schema = _schema(chk, "cookbook", spec.target, in_process)
        if schema is not None:
            _check_chz_table(chk, "cookbook", view.section("cookbook"), schema, spec.owned)
    entry = view.values.get("entry")
    if workflow != COOKBOOK_WORKFLOW or not isinstance(entry, str):
        return
    if not MODULE_RE.match(entry):
        chk.add("entry", f"must be a module name like \"tinker_cookbook.recipes.math_rl.train\", got {show(entry)}", at_value=True)
        return
    schema = _schema(chk, "entry", entry_target(entry), in_process)
    if schema is None:
        return
    if RUN_DIR_FIELD not in schema.fields:
        chk.add("entry", f"{entry}.{ENTRY_CONFIG_CLASS} has no {RUN_DIR_FIELD} field: cookbook-tui cannot point it at the run dir", at_value=True)
    config = view.section("config")
    _check_chz_table(chk, "config", config, schema, RUNNER_FIELDS)
    missing = [f.name for f in schema.fields.values() if f.required and f.name not in config and f.name not in RUNNER_FIELDS]
    if missing:
        chk.add("config", f"{entry}.{ENTRY_CONFIG_CLASS} needs {', '.join(missing)} (no default)")
