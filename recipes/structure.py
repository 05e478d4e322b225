"""The checks any format's text gets from its declaration alone: unknown keys (with a
did-you-mean), types, choices and ranges, required keys, which sections and keys each workflow
takes; and `RecipeView`, the recipe with its defaults as the later checks read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cookbook_tui.recipes.checker import Checker, check_value, did_you_mean, show
from cookbook_tui.recipes.schema import COOKBOOK_WORKFLOW, FORMAT
from cookbook_tui.recipes.spec import RecipeFormat, SectionSpec


@dataclass(frozen=True)
class RecipeView:
    """The recipe as the checks after the structure read it: each top-level key and each section
    its workflow takes, with the declared defaults filled in (an array of tables: a list of
    them), and which of those sections the text itself holds. Nothing is looked up: resolution (resolve.py)
    is apart."""

    values: dict[str, Any]
    given: frozenset[str]

    @property
    def workflow(self) -> Any:
        return self.values.get("workflow")

    def section(self, name: str) -> dict[str, Any]:
        value = self.values.get(name)
        return value if isinstance(value, dict) else {}


def _applies(workflow: Any, workflows: tuple[str, ...]) -> bool:
    return not isinstance(workflow, str) or workflow in workflows


def recipe_view(data: dict[str, Any], fmt: RecipeFormat = FORMAT) -> RecipeView:
    values = {key: data.get(key, spec.default) for key, spec in fmt.top.items()}
    workflow = values.get("workflow")
    for name in fmt.free_tables:
        values[name] = data.get(name) if isinstance(data.get(name), dict) else {}
    given_tables = set()
    for name, section in fmt.sections.items():
        if not _applies(workflow, section.workflows):
            continue
        given = data.get(name)
        if section.many:
            tables = [t for t in given if isinstance(t, dict)] if isinstance(given, list) else []
            values[name] = [_with_defaults(section, t) for t in tables]
        else:
            values[name] = _with_defaults(section, given if isinstance(given, dict) else {})
        if isinstance(given, list if section.many else dict):
            given_tables.add(name)
    return RecipeView(values, frozenset(given_tables))


def _with_defaults(section: SectionSpec, table: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in table.items() if k in section.fields}
    for key, spec in section.fields.items():
        values.setdefault(key, spec.default)
    return values


def check_structure(chk: Checker, data: dict[str, Any], fmt: RecipeFormat = FORMAT) -> None:
    """Types, ranges, unknown and required keys, and what each workflow takes."""
    workflow = data.get("workflow")
    for key, value in data.items():
        if key in fmt.top:
            check_value(chk, key, fmt.top[key], value)
        elif key in fmt.free_tables:
            _check_free_table(chk, fmt, key, value, workflow)
        elif key in fmt.sections:
            _check_section(chk, key, fmt.sections[key], value, workflow)
        else:
            chk.add(key, f"unknown key{did_you_mean(key, fmt.top_names())}")
    for key, spec in fmt.top.items():
        if spec.required and key not in data:
            chk.add(key, "required key is missing")
    if workflow == COOKBOOK_WORKFLOW and "entry" not in data:
        chk.add("entry", "workflow \"cookbook\" needs entry = \"<module>\" (e.g. tinker_cookbook.recipes.math_rl.train)")
    elif "entry" in data and isinstance(workflow, str) and workflow != COOKBOOK_WORKFLOW:
        chk.add("entry", f"entry applies to workflow \"cookbook\" only, not {workflow!r}")
    model = fmt.sections.get("model")  # every workflow that takes [model] needs its keys
    if model is not None and _applies(workflow, model.workflows) and not isinstance(data.get("model"), dict):
        _check_required(chk, "model", model, {})


def _check_free_table(chk: Checker, fmt: RecipeFormat, key: str, value: Any, workflow: Any) -> None:
    applies_to = fmt.free_tables[key][1]
    if not isinstance(value, dict):
        chk.add(key, f"must be a table ([{key}]), got {show(value)}", at_value=True)
    elif workflow in (fmt.top["workflow"].choices or ()) and workflow not in applies_to:
        other = "config" if key == "cookbook" else "cookbook"
        chk.add(key, f"[{key}] does not apply to workflow {workflow!r}: use [{other}]")


def _check_section(chk: Checker, key: str, section: SectionSpec, value: Any, workflow: Any) -> None:
    if section.many:
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            chk.add(key, f"must be an array of tables ([[{key}]]), got {show(value)}", at_value=True)
            return
    elif not isinstance(value, dict):
        chk.add(key, f"must be a table ([{key}]), got {show(value)}", at_value=True)
        return
    if workflow == COOKBOOK_WORKFLOW:
        chk.add(key, f"section [{key}] does not apply to workflow \"cookbook\": the entry module's fields go in [config]")
        return
    if isinstance(workflow, str) and workflow not in section.workflows:
        chk.add(key, f"section [{key}] applies to workflow {', '.join(section.workflows)}, not {workflow!r}")
        return
    tables = [(f"{key}[{n}]", t) for n, t in enumerate(value)] if section.many else [(key, value)]
    for prefix, table in tables:
        _check_keys(chk, prefix, section, table, workflow)
        _check_required(chk, prefix, section, table)


def _check_keys(chk: Checker, prefix: str, section: SectionSpec, table: dict[str, Any], workflow: Any) -> None:
    for sub, sub_value in table.items():
        dotted = f"{prefix}.{sub}"
        spec = section.fields.get(sub)
        if spec is None:
            chk.add(dotted, f"unknown key{did_you_mean(sub, list(section.fields))}")
            continue
        check_value(chk, dotted, spec, sub_value)
        if not spec.used_by(workflow):
            only = ", ".join(spec.workflows or ())
            chk.add(dotted, f"not used by workflow \"{workflow}\" (only {only})", severity="warning")


def _check_required(chk: Checker, prefix: str, section: SectionSpec, table: dict[str, Any]) -> None:
    for sub, spec in section.fields.items():
        if spec.required and sub not in table:
            chk.add(f"{prefix}.{sub}", "required key is missing")
