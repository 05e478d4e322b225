"""What the editor offers at the cursor (Ctrl+Space): table names after `[`, the keys of the table
the cursor is in, or a key's values — all read off the models in `schema.py` (and, under
`[cookbook]` / `[config]`, off the chz class those tables set, as the validator and F3 do).

It works on text being typed, which may not parse: the workflow and the table in force are read
line by line, never through tomllib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cookbook_tui.recipes.chz_schema import ConfigSchema, SchemaUnavailable, may_import_here, schema_for
from cookbook_tui.recipes.locate import key_positions, table_at, unindexed
from cookbook_tui.recipes.schema import (
    BUNDLED_ENVS,
    COOKBOOK_CONFIGS,
    FORMAT,
    HUB_DATASETS,
    entry_target,
)
from cookbook_tui.recipes.spec import KeySpec, RecipeFormat

_TOP_VALUE_RE = r'^\s*{key}\s*=\s*["\']([^"\']+)["\']'
_WORD_RE = re.compile(r"[A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Candidate:
    label: str  # what the list shows
    insert: str  # what replaces the word at the cursor
    doc: str = ""


@dataclass(frozen=True)
class Completion:
    """Candidates for the text from `column` to `end` on the cursor's line (0-based columns)."""

    column: int
    end: int
    candidates: list[Candidate]


def _top_value(text: str, key: str) -> str | None:
    match = re.search(_TOP_VALUE_RE.format(key=key), text.split("\n[", 1)[0], re.MULTILINE)
    return match.group(1) if match else None


def _applies(workflows: tuple[str, ...], workflow: str | None) -> bool:
    return workflow is None or workflow in workflows


def _tables(fmt: RecipeFormat, text: str, workflow: str | None, close: str, in_brackets: int) -> list[Candidate]:
    """`[name]` for each table not written yet; `[[name]]` for each array of tables (another
    element may always follow). `in_brackets`: the brackets already typed before the word."""
    present = key_positions(text)
    names = [(n, s.doc, s.workflows, s.many) for n, s in fmt.sections.items()]
    names += [(n, d, w, False) for n, (d, w) in fmt.free_tables.items()]
    found = []
    for name, doc, workflows, many in names:
        if not _applies(workflows, workflow) or (name in present and not many):
            continue
        if many:
            found.append(Candidate(f"[[{name}]]", "[" * (2 - in_brackets) + name + close * 2, doc))
        elif in_brackets == 1:
            found.append(Candidate(f"[{name}]", name + close, doc))
    return found


def _chz_fields(text: str, table: str, workflow: str | None) -> dict[str, str]:
    """A [cookbook]/[config] table's fields (name -> description), as the validator reads them;
    a sub-table (`[cookbook.async_config]`) is the nested config's."""
    top, *nested = table.split(".")
    if top == "cookbook" and workflow in COOKBOOK_CONFIGS:
        target = COOKBOOK_CONFIGS[workflow].target
    elif top == "config" and (entry := _top_value(text, "entry")):
        target = entry_target(entry)
    else:
        return {}
    try:
        schema: ConfigSchema | None = schema_for(target, in_process=may_import_here())
    except SchemaUnavailable:
        return {}
    for part in nested:
        field = schema.fields.get(part) if schema is not None else None
        schema = field.nested if field is not None else None
    if schema is None:
        return {}
    owned = COOKBOOK_CONFIGS[workflow].owned if table == "cookbook" and workflow in COOKBOOK_CONFIGS else {}
    return {name: f.describe().partition(": ")[2] for name, f in schema.fields.items() if name not in owned}


def _keys(fmt: RecipeFormat, text: str, table: str, workflow: str | None) -> list[Candidate]:
    if table.split(".")[0] in fmt.free_tables:
        fields = _chz_fields(text, table, workflow)
    else:
        section = fmt.sections.get(unindexed(table))  # an array's element ("evals[1]") takes its keys
        specs = fmt.top if table == "" else section.fields if section else {}
        fields = {key: spec.doc for key, spec in specs.items() if spec.used_by(workflow)}
    present = key_positions(text)
    return [
        Candidate(key, f"{key} = ", doc) for key, doc in fields.items() if (f"{table}.{key}" if table else key) not in present
    ]


def _values(dotted: str, spec: KeySpec, workflow: str | None) -> list[str]:
    if dotted == "env.name":
        return [n for w, envs in BUNDLED_ENVS.items() if _applies((w,), workflow) for n in envs]
    if dotted == "dataset.hub":
        return [n for w, known in HUB_DATASETS.items() if _applies((w,), workflow) for n in known]
    return list(spec.choices or ()) + list(spec.words)


def completions(text: str, row: int, column: int, fmt: RecipeFormat = FORMAT) -> Completion | None:
    """Candidates for the word that ends at (row, column), both 0-based; None where nothing fits
    (a comment, a value with no fixed choices, an unknown table). `fmt`: the format's keys
    (tests pass small ones)."""
    lines = text.split("\n")
    if not 0 <= row < len(lines):
        return None
    before = lines[row][:column]
    if "#" in before:
        return None
    workflow = _top_value(text, "workflow")
    word = _WORD_RE.search(before)
    start = word.start() if word else column
    prefix = before[start:]
    stripped = before.lstrip()
    after = lines[row][column:]
    end = column
    if stripped.startswith("["):
        close = "" if after.lstrip().startswith("]") else "]"
        in_brackets = 2 if stripped.startswith("[[") else 1
        candidates = _tables(fmt, text, workflow, close, in_brackets)
    elif "=" in before:
        key, _, value = before.partition("=")
        table = table_at(text, row + 1)
        dotted = f"{table}.{key.strip()}" if table else key.strip()
        spec = fmt.key_spec(dotted)
        if spec is None:
            return None
        if spec.kind == "bool":
            values = ["true", "false"]
        else:
            values = _values(dotted, spec, workflow)
        opening = value.lstrip()[:1]
        start = column - len(value.lstrip()) if opening in ("\"", "'") else start
        prefix = value.lstrip().lstrip("\"'")
        quote = opening if opening in ("\"", "'") else "\""
        end = column + 1 if spec.kind != "bool" and after.startswith(quote) else column  # its closing quote
        candidates = [Candidate(v, v if spec.kind == "bool" else f"{quote}{v}{quote}") for v in values]
    elif stripped == prefix:
        candidates = _keys(fmt, text, table_at(text, row + 1), workflow)
    else:
        return None
    fitting = [c for c in candidates if c.label.lstrip("[").startswith(prefix)]
    return Completion(start, end, fitting) if fitting else None
