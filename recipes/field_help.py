"""What a recipe key is, for the editor's field help: its type, default and doc.

Our own keys come from `schema.py`; keys under `[cookbook]` / `[config]` from the chz class they
set (`chz_schema`), the same source the validator checks them against.
"""

from __future__ import annotations

import tomllib

from cookbook_tui.recipes.chz_schema import ConfigSchema, SchemaUnavailable, may_import_here, schema_for
from cookbook_tui.recipes.locate import key_positions, unindexed
from cookbook_tui.recipes.schema import COOKBOOK_CONFIGS, FORMAT, FREE_TABLES, SECTIONS, KeySpec, entry_target


def key_at_line(text: str, line: int) -> str | None:
    """The dotted key (or table header) written on `line` (1-based), if any."""
    on_line = [key for key, (at, _) in key_positions(text).items() if at == line]
    return max(on_line, key=len) if on_line else None


def _ours(dotted: str, spec: KeySpec) -> str:
    default = "required" if spec.required else f"default {spec.default!r}" if spec.default not in (None, {}) else "optional"
    choices = f"; one of {', '.join(spec.choices)}" if spec.choices and len(spec.choices) <= 8 else ""
    words = "".join(f" or {w!r}" for w in spec.words)
    return f"{dotted}: {spec.kind}{spec.bounds}{words} ({default}){choices} — {spec.doc}"


def _target(data: dict, table: str) -> str | None:
    workflow = data.get("workflow")
    if table == "cookbook" and workflow in COOKBOOK_CONFIGS:
        return COOKBOOK_CONFIGS[workflow].target
    if table == "config" and isinstance(data.get("entry"), str):
        return entry_target(data["entry"])
    return None


def field_help(text: str, line: int) -> str | None:
    """One line about the key on `line`, or None when the line holds no key this can explain."""
    dotted = key_at_line(text, line)
    if dotted is None:
        return None
    parts = dotted.split(".")
    if parts[0] in FREE_TABLES:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return None
        target = _target(data, parts[0])
        if target is None:
            return f"[{parts[0]}]: {FREE_TABLES[parts[0]][0]}"
        try:
            top = schema_for(target, in_process=may_import_here())
        except SchemaUnavailable as exc:
            return str(exc)
        if len(parts) == 1:
            return f"[{parts[0]}]: fields of {target}" + (f" — {top.doc}" if top.doc else "")
        schema: ConfigSchema | None = top
        field = None
        for part in parts[1:]:
            field = schema.fields.get(part) if schema is not None else None
            if field is None:
                return None
            schema = field.nested
        return f"{dotted}: {field.describe().partition(': ')[2]}" if field else None
    spec = FORMAT.key_spec(dotted)
    if spec is not None:
        return _ours(dotted, spec)
    section = SECTIONS.get(unindexed(dotted))
    return f"[{dotted}]: {section.doc}" if section else None
