"""The recipe format's outward forms, both derived from the models in `schema.py`: a JSON Schema
(`cookbook-tui schema`, for editors such as Taplo or VS Code's Even Better TOML) and the README's
key reference (`cookbook-tui schema --markdown`; tests/recipes fails when README.md differs).

`python -m cookbook_tui.recipes.reference --write-readme README.md` rewrites the reference in
place, between its two marker lines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cookbook_tui.recipes.schema import COOKBOOK_WORKFLOW, FORMAT
from cookbook_tui.recipes.spec import KeySpec, RecipeFormat

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
README_BEGIN = "<!-- recipe keys: generated from recipes/schema.py by `cookbook-tui schema --markdown`; do not edit -->"
README_END = "<!-- end of recipe keys -->"


def _for_toml(node: Any, in_properties: bool = False) -> Any:
    """TOML has no null: an optional key is one left out, so `anyOf [X, null]` becomes X and a
    None default goes; property titles (pydantic's "Lora Rank") say nothing the key does not."""
    if isinstance(node, list):
        return [_for_toml(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {key: _for_toml(value) for key, value in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "anyOf":
            options = [o for o in value if o != {"type": "null"}]
            if len(options) == 1:
                out.update(_for_toml(options[0]))
                continue
            value = options
        if key == "default" and value is None:
            continue
        out[key] = _for_toml(value, in_properties=key in ("properties", "$defs"))
    return out


def _applies(workflows: tuple[str, ...], fmt: RecipeFormat) -> str:
    """" (workflow dpo)" for a section some workflows take; nothing for one every curated one takes."""
    return "" if workflows == fmt.workflows else f" (workflow {', '.join(workflows)})"


def json_schema(fmt: RecipeFormat = FORMAT) -> dict[str, Any]:
    """The recipe format as a JSON Schema (draft 2020-12)."""
    schema = _for_toml(fmt.root.model_json_schema())
    for name, spec in fmt.sections.items():
        prop = schema["properties"][name]
        prop.pop("default", None)  # a section's defaults are its keys' defaults
        prop["description"] = spec.doc + _applies(spec.workflows, fmt)
        definition = schema["$defs"][spec.model.__name__]["properties"]
        for key, key_spec in spec.fields.items():
            if key_spec.doc:
                definition[key]["description"] = key_spec.doc  # with the workflows that read it
    for definition in schema.get("$defs", {}).values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    for prop in schema["properties"].values():
        prop.pop("title", None)
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "title": "cookbook-tui recipe", "allOf": _workflow_rules(fmt)}


def _workflow_rules(fmt: RecipeFormat) -> list[dict[str, Any]]:
    """What the validator checks per workflow, for an editor to flag too: a table only where its
    workflow takes it, and `entry` for workflow "cookbook"."""
    tables = {name: spec.workflows for name, spec in fmt.sections.items()}
    tables.update({name: workflows for name, (_, workflows) in fmt.free_tables.items()})
    rules: list[dict[str, Any]] = [
        {
            "if": {"properties": {"workflow": {"not": {"enum": list(workflows)}}}, "required": ["workflow"]},
            "then": {"not": {"required": [name]}},
        }
        for name, workflows in tables.items()
    ]
    if "entry" in fmt.top:
        cookbook = {"properties": {"workflow": {"const": COOKBOOK_WORKFLOW}}, "required": ["workflow"]}
        rules.append({"if": cookbook, "then": {"required": ["entry"]}, "else": {"not": {"required": ["entry"]}}})
    return rules


def _type(spec: KeySpec) -> str:
    kind = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "table": "table"}[spec.kind]
    if spec.choices:
        if len(spec.choices) > 8:
            return f"one of {len(spec.choices)} names (`cookbook-tui schema` lists them)"
        return "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    return kind + spec.bounds + "".join(f" or `{json.dumps(w)}`" for w in spec.words)


def _default(spec: KeySpec) -> str:
    if spec.required:
        return "required"
    return "" if spec.default in (None, {}) else f"`{json.dumps(spec.default)}`"


def _cell(text: str) -> str:
    return text.replace("<", "&lt;").replace("|", "\\|")


def _rows(fields: dict[str, KeySpec]) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{key}` | {_type(spec)} | {_default(spec)} | {_cell(spec.doc)} |" for key, spec in fields.items()]
    return rows


def markdown_reference(fmt: RecipeFormat = FORMAT) -> str:
    """Every key of the format as Markdown tables: the top level, then each section (an array of
    tables as `[[name]]`: each element has the keys listed)."""
    lines = [README_BEGIN, "", "Top level:", "", *_rows(fmt.top)]
    for name, section in fmt.sections.items():
        header = f"`[[{name}]]` (any number)" if section.many else f"`[{name}]`"
        lines += ["", f"{header}{_applies(section.workflows, fmt)}: {_cell(section.doc)}.", "", *_rows(section.fields)]
    for name, (doc, workflows) in fmt.free_tables.items():
        lines += ["", f"`[{name}]`{_applies(workflows, fmt)}: {doc}; checked against the installed class."]
    return "\n".join([*lines, "", README_END])


def readme_reference(readme: str) -> str | None:
    """The generated block as README.md holds it (None: no markers)."""
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        return None
    return readme[start : end + len(README_END)]


def write_readme(path: Path) -> bool:
    """Replace README.md's block with the generated one; False when nothing changed."""
    text = path.read_text(encoding="utf-8")
    current = readme_reference(text)
    if current is None:
        raise SystemExit(f"{path}: no {README_BEGIN!r} … {README_END!r} block")
    fresh = markdown_reference()
    if current == fresh:
        return False
    path.write_text(text.replace(current, fresh), encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write-readme"] and len(argv) == 2:
        print("updated" if write_readme(Path(argv[1])) else "unchanged", argv[1])
        return 0
    print(markdown_reference() if argv == ["--markdown"] else json.dumps(json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
