"""The recipe format is declared once (the models in recipes/schema.py): the validator's tables, the
JSON Schema (`cookbook-tui schema`) and the README's key reference all follow from it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cookbook_tui.cli.main import main as cli_main
from cookbook_tui.recipes import check_text
from cookbook_tui.recipes.paths import BUNDLED_DIR
from cookbook_tui.recipes.reference import json_schema, markdown_reference, readme_reference
from cookbook_tui.recipes.schema import FREE_TABLES, SECTIONS, TOP_LEVEL

README = Path(__file__).resolve().parents[2] / "README.md"
BUNDLED = sorted(BUNDLED_DIR.glob("*.toml"))
KIND_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "table": "object"}


def _properties(schema: dict, name: str) -> dict:
    ref = schema["properties"][name]["$ref"].rpartition("/")[2]
    return schema["$defs"][ref]


def test_readme_key_reference_is_the_generated_one() -> None:
    written = readme_reference(README.read_text(encoding="utf-8"))
    assert written is not None, "README.md lost its generated key reference block"
    assert written == markdown_reference(), (
        "README.md's key reference differs from the models in recipes/schema.py: run "
        "`python -m cookbook_tui.recipes.reference --write-readme README.md`"
    )


def test_json_schema_has_the_models_keys_and_types() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == set(TOP_LEVEL) | set(SECTIONS) | set(FREE_TABLES)
    assert schema["required"] == [k for k, spec in TOP_LEVEL.items() if spec.required] == ["workflow"]
    assert schema["additionalProperties"] is False
    for key, spec in TOP_LEVEL.items():
        assert schema["properties"][key]["type"] == KIND_TYPES[spec.kind], key
    for name, section in SECTIONS.items():
        table = _properties(schema, name)
        assert table["additionalProperties"] is False, name
        assert list(table["properties"]) == list(section.fields), name
        assert table.get("required", []) == [k for k, spec in section.fields.items() if spec.required], name
        for key, spec in section.fields.items():
            prop = table["properties"][key]
            types = {o.get("type") for o in prop.get("anyOf", [prop])}
            assert KIND_TYPES[spec.kind] in types, f"{name}.{key}"
            if spec.choices:
                assert prop["enum"] == list(spec.choices), f"{name}.{key}"


def test_one_declared_bound_reaches_validator_schema_and_reference() -> None:
    # [model].lora_rank is declared once as le=1024.
    assert _properties(json_schema(), "model")["properties"]["lora_rank"]["maximum"] == 1024
    issues = check_text('workflow = "sl"\n[model]\nname = "m"\nlora_rank = 2048\n', "r.toml")
    assert any(i.field == "model.lora_rank" and "must be <= 1024, got 2048" in i.message for i in issues)
    assert "| `lora_rank` | integer ≥ 1, ≤ 1024 | `32` | LoRA rank |" in markdown_reference()


jsonschema = pytest.importorskip("jsonschema")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_recipe_is_valid_against_the_json_schema(path: Path) -> None:
    jsonschema.Draft202012Validator(json_schema()).validate(tomllib.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "toml, where",
    [
        ('workflow = "sl"\n[model]\nname = "m"\nlora_rnak = 8\n', "lora_rnak"),
        ('workflow = "sl"\n[training]\nlearning_rate = -1\n', "-1"),
        ('workflow = "sl"\n[training]\nlearning_rate = "fast"\n', "fast"),
        ('workflow = "sl"\n[dataset]\nbatch_size = true\n', "True"),
        ('workflow = "sft"\n', "sft"),
        ('backend = "local"\n', "workflow"),
        # per workflow: a table it does not take, entry only (and always) for workflow "cookbook"
        ('workflow = "sl"\n[dpo]\nbeta = 0.2\n', "dpo"),
        ('workflow = "cookbook"\nentry = "m.train"\n[model]\nname = "m"\n', "model"),
        ('workflow = "cookbook"\n[config]\nx = 1\n', "entry"),
        ('workflow = "rl"\nentry = "m.train"\n', "entry"),
    ],
)
def test_the_json_schema_refuses_what_the_validator_refuses(toml: str, where: str) -> None:
    assert any(i.is_error for i in check_text(toml, "r.toml"))
    with pytest.raises(jsonschema.ValidationError, match=where):
        jsonschema.Draft202012Validator(json_schema()).validate(tomllib.loads(toml))


def test_cli_prints_the_schema_and_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    assert cli_main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == markdown_reference()
