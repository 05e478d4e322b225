"""A section declared as a list of models is an array of tables (`[[name]]`, one element per
header) everywhere the format is read: the validator names each element's keys with their line
(`probes[1].every`), completion offers an element's keys and another `[[probes]]`, the JSON
Schema and the README reference list it. A small test-only format stands in for the real one's
future arrays; `check_key_value` checks any recipe key's value by its dotted name."""

from __future__ import annotations

import tomllib
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from cookbook_tui.recipes.checker import Checker, check_key_value
from cookbook_tui.recipes.completion import completions
from cookbook_tui.recipes.issues import RecipeIssue
from cookbook_tui.recipes.reference import json_schema, markdown_reference
from cookbook_tui.recipes.schema import Section
from cookbook_tui.recipes.spec import format_of
from cookbook_tui.recipes.structure import check_structure, recipe_view


class Probe(Section):
    """a probe run every few steps"""

    WORKFLOWS = ("a",)
    name: str = Field(description="what the probe is called")
    every: int = Field(default=10, ge=1, description="steps between probes")


class ProbeRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow: Literal["a", "b"] = Field(description="the workflow")
    probes: list[Probe] = Field(default_factory=list, description="the probes")


FORMAT = format_of(ProbeRecipe, ("a", "b"))
TEXT = 'workflow = "a"\n\n[[probes]]\nname = "first"\n\n[[probes]]\nname = "second"\nevery = 0\n\n[[probes]]\nevry = 5\n'


def issues(text: str) -> list[RecipeIssue]:
    chk = Checker(text, "p.toml")
    check_structure(chk, tomllib.loads(text), FORMAT)
    return chk.sorted_issues()


def test_each_elements_keys_are_checked_and_located() -> None:
    assert [str(i) for i in issues(TEXT)] == [
        "p.toml:8:9: probes[1].every: must be >= 1, got 0",
        "p.toml:10:3: probes[2].name: required key is missing",  # at its element's header
        "p.toml:11:1: probes[2].evry: unknown key (did you mean 'every'?)",
    ]
    assert issues(TEXT.replace("every = 0", "every = 3").replace("evry = 5", 'name = "third"')) == []


def test_the_array_itself_must_be_tables_of_a_workflow_that_takes_them() -> None:
    [issue] = issues('workflow = "a"\nprobes = 3\n')
    assert (issue.field, issue.line, issue.message) == ("probes", 2, "must be an array of tables ([[probes]]), got 3")
    [issue] = issues(TEXT.replace('"a"', '"b"', 1))
    assert (issue.field, issue.line) == ("probes", 3)  # the first [[probes]] header
    assert issue.message == "section [probes] applies to workflow a, not 'b'"


def test_an_inline_array_element_is_located_at_its_key() -> None:
    [issue] = issues('workflow = "a"\nprobes = [{ name = "x", every = -1 }]\n')
    assert (issue.field, issue.line) == ("probes[0].every", 2)


def test_the_view_fills_each_elements_defaults() -> None:
    view = recipe_view(tomllib.loads('workflow = "a"\n[[probes]]\nname = "x"\n[[probes]]\nname = "y"\nevery = 2\n'), FORMAT)
    assert view.values["probes"] == [{"name": "x", "every": 10}, {"name": "y", "every": 2}]
    assert recipe_view(tomllib.loads('workflow = "a"\n'), FORMAT).values["probes"] == []


def test_completion_offers_an_elements_missing_keys_and_another_element() -> None:
    text = 'workflow = "a"\n[[probes]]\nname = "x"\n[[probes]]\n\n'
    found = completions(text, 4, 0, FORMAT)
    assert found is not None and [c.label for c in found.candidates] == ["name", "every"]  # element 1 has none yet
    found = completions(text + "[[pr", 5, 4, FORMAT)
    assert found is not None and [(c.label, c.insert) for c in found.candidates] == [("[[probes]]", "probes]]")]
    found = completions(text + "[pr", 5, 3, FORMAT)
    assert found is not None and [c.insert for c in found.candidates] == ["[probes]]"]


def test_json_schema_and_reference_list_the_array() -> None:
    schema = json_schema(FORMAT)
    assert schema["properties"]["probes"]["type"] == "array"
    item = schema["$defs"][schema["properties"]["probes"]["items"]["$ref"].rpartition("/")[2]]
    assert item["properties"]["every"]["minimum"] == 1 and item["required"] == ["name"]
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(tomllib.loads(TEXT.replace("every = 0", "every = 3").replace("evry = 5", 'name = "z"')))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(tomllib.loads(TEXT))
    reference = markdown_reference(FORMAT)
    assert "`[[probes]]` (any number) (workflow a): a probe run every few steps." in reference
    assert "| `every` | integer ≥ 1 | `10` | steps between probes |" in reference


def test_any_recipe_keys_value_is_checked_by_its_dotted_name() -> None:
    text = '[sweep]\n"training.learning_rate" = [1e-4, -1]\n"training.learning_rat" = [1]\n'
    chk = Checker(text, "r.toml")
    assert check_key_value(chk, "sweep.training.learning_rate", "training.learning_rate", 1e-4)
    assert not check_key_value(chk, "sweep.training.learning_rate", "training.learning_rate", -1)
    assert not check_key_value(chk, "sweep.training.learning_rat", "training.learning_rat", 1)
    assert [str(i) for i in chk.issues] == [
        "r.toml:2:28: sweep.training.learning_rate: must be > 0, got -1",
        "r.toml:3:1: sweep.training.learning_rat: not a recipe key: 'training.learning_rat' (did you mean 'training.learning_rate'?)",
    ]
    assert check_key_value(Checker("", "p.toml"), "x", "probes[3].every", 2, FORMAT)
