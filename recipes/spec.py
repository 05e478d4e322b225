"""How a recipe format's pydantic models are read: one `KeySpec` per key, one `SectionSpec` per
section, a `RecipeFormat` for a whole root model.

`schema.py` declares the real format with these markers and derives `FORMAT` from its root
model; the validator, completion, F3 help, the JSON Schema and the README reference read the
tables here, never the models. Tests derive small formats of their own from test-only models.

The rules a root model follows:
- a field whose type is a section model (a pydantic model with `WORKFLOWS`) is a `[table]`;
  `list[Model]` is an array of tables (`[[name]]`, one element per header), `many=True`;
- a field annotated with `FreeTable(...)` is a table of a chz class's fields (chz_schema.py);
- every other field is a top-level key.
Inside a section each field is a key: its type, default, range (ge/gt/le) and doc (description);
`Literal` types are its choices, a `Literal` beside a number adds words accepted besides it
(`float | Literal["auto"]`), `DataPath()` marks a data file, `OnlyFor(...)` the workflows that
read the key (others ignore it: completion leaves it out, the validator warns).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel

from cookbook_tui.recipes.locate import unindexed


class DataPath:
    """Marks a key whose value is a data file (relative to the recipe, or bundled:NAME)."""


class FreeTable:
    """Marks a table whose keys are a chz class's fields (recipes/chz_schema.py), not ours."""

    def __init__(self, workflows: tuple[str, ...]):
        self.workflows = workflows


class OnlyFor:
    """Marks a key only some of its section's workflows read (the others ignore it)."""

    def __init__(self, *workflows: str):
        self.workflows = workflows


@dataclass(frozen=True)
class KeySpec:
    """One key as the validator checks it: `kind` is str | int | float | bool | table."""

    kind: str
    doc: str
    default: object = None
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    is_path: bool = False
    # Words accepted besides a value of `kind` ("auto": the cookbook picks the value).
    words: tuple[str, ...] = ()
    # The workflows that read the key; None: every workflow its section applies to.
    workflows: tuple[str, ...] | None = None

    @property
    def bounds(self) -> str:
        """The range as the README and F3 show it: " ≥ 1, ≤ 1024", " > 0", or ""."""
        low = f" {'>' if self.exclusive_minimum else '≥'} {self.minimum:g}" if self.minimum is not None else ""
        high = f"{',' if low else ''} ≤ {self.maximum:g}" if self.maximum is not None else ""
        return low + high

    def used_by(self, workflow: object) -> bool:
        """Whether `workflow` reads this key (an unknown or missing workflow: assume it does)."""
        return self.workflows is None or not isinstance(workflow, str) or workflow in self.workflows


@dataclass(frozen=True)
class SectionSpec:
    doc: str
    fields: dict[str, KeySpec]
    workflows: tuple[str, ...]
    model: type[BaseModel] = BaseModel
    # An array of tables ([[name]]): each element is checked against `fields`.
    many: bool = False


@dataclass(frozen=True)
class RecipeFormat:
    """Every key of a format, read off its root model."""

    root: type[BaseModel]
    top: dict[str, KeySpec]
    sections: dict[str, SectionSpec]
    # table name -> (doc, workflows it applies to)
    free_tables: dict[str, tuple[str, tuple[str, ...]]]
    # The workflows a section takes unless its model names others (`WORKFLOWS`).
    workflows: tuple[str, ...] = ()

    def key_spec(self, dotted: str) -> KeySpec | None:
        """The spec of a key by its dotted name ("training.learning_rate", "evals[0].every"), or
        None for a key the format does not declare (free tables' keys included)."""
        section, _, key = unindexed(dotted).rpartition(".")
        if not section:
            return self.top.get(key)
        spec = self.sections.get(section)
        return spec.fields.get(key) if spec is not None else None

    def dotted_keys(self) -> list[str]:
        """Every declared key by its dotted name (top-level keys, then each section's)."""
        return list(self.top) + [f"{name}.{key}" for name, spec in self.sections.items() for key in spec.fields]

    def top_names(self) -> list[str]:
        """Every name the top level may hold: keys, sections and free tables."""
        return list(self.top) + list(self.sections) + list(self.free_tables)


_KINDS: dict[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", dict: "table"}


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _key_spec(info: Any) -> KeySpec:
    """A pydantic field as a KeySpec: None in a union means optional, a Literal its choices (or,
    beside a number, words), annotated_types bounds its range."""
    metadata = list(info.metadata)
    kind, choices, words = None, None, ()
    annotation = info.annotation
    parts = [a for a in get_args(annotation) if a is not type(None)] if _is_union(annotation) else [annotation]
    for part in parts:
        if get_origin(part) is Annotated:
            part, *extra = get_args(part)
            metadata += [m for e in extra for m in getattr(e, "metadata", [e])]
        if get_origin(part) is Literal:
            if kind is None and len(parts) == 1:
                kind, choices = "str", tuple(get_args(part))
            else:
                words = tuple(get_args(part))
            continue
        kind = _KINDS[get_origin(part) or part]
    bounds = {type(m): m for m in metadata}
    ge, gt, le = bounds.get(annotated_types.Ge), bounds.get(annotated_types.Gt), bounds.get(annotated_types.Le)
    default = info.get_default(call_default_factory=True) if not info.is_required() else None
    only_for = next((m.workflows for m in metadata if isinstance(m, OnlyFor)), None)
    doc = info.description or ""
    return KeySpec(
        kind=kind or "str",
        doc=f"{doc} ({', '.join(only_for)})" if only_for else doc,
        default=default,
        required=info.is_required(),
        choices=choices,
        minimum=gt.gt if gt is not None else ge.ge if ge is not None else None,
        maximum=le.le if le is not None else None,
        exclusive_minimum=gt is not None,
        is_path=any(isinstance(m, DataPath) for m in metadata),
        words=words,
        workflows=only_for,
    )


def _section_model(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """(model, many) for a section field's type: `Model`, `Model | None` or `list[Model]`."""
    if get_origin(annotation) is list:
        found = _section_model(get_args(annotation)[0])
        return (found[0], True) if found is not None and not found[1] else None
    for part in get_args(annotation) if _is_union(annotation) else (annotation,):
        if isinstance(part, type) and issubclass(part, BaseModel) and hasattr(part, "WORKFLOWS"):
            return part, False
    return None


def format_of(root: type[BaseModel], workflows: tuple[str, ...]) -> RecipeFormat:
    """The format a root model declares; `workflows` are those a section applies to when its
    model's `WORKFLOWS` is None."""
    top: dict[str, KeySpec] = {}
    sections: dict[str, SectionSpec] = {}
    free: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, info in root.model_fields.items():
        found = _section_model(info.annotation)
        marker = next((m for m in info.metadata if isinstance(m, FreeTable)), None)
        if found is not None:
            model, many = found
            fields = {key: _key_spec(sub) for key, sub in model.model_fields.items()}
            applies = getattr(model, "WORKFLOWS", None) or workflows
            sections[name] = SectionSpec((model.__doc__ or "").strip(), fields, applies, model, many)
        elif marker is not None:
            free[name] = (info.description or "", marker.workflows)
        else:
            top[name] = _key_spec(info)
    return RecipeFormat(root, top, sections, free, workflows)
