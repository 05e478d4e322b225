"""The validator's shared parts: `Checker` collects issues located by dotted key, the words its
messages use, and the check of one value against its `KeySpec`."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from cookbook_tui.recipes.issues import RecipeIssue
from cookbook_tui.recipes.locate import key_positions, value_column
from cookbook_tui.recipes.schema import FORMAT
from cookbook_tui.recipes.spec import KeySpec, RecipeFormat

_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "table": "a table",
}
# TOML's value types, in the order that tells them apart (a bool is an int to Python).
_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "table"), (list, "array"),
)
# One step up a dotted key: "evals[1].every" -> "evals[1]" -> "evals".
_PARENT_RE = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def kind_of(value: Any) -> str:
    for cls, kind in _TOML_TYPES:
        if isinstance(value, cls):
            return kind
    return type(value).__name__


def show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def not_one_of(value: str, choices: list[str] | tuple[str, ...]) -> str:
    """The message for a value outside a fixed set: our keys' Literal choices and chz Literal
    fields alike; a long set is counted rather than listed (F3 and completion show it)."""
    shown = ", ".join(choices) if len(choices) <= 10 else f"{len(choices)} values"
    return f"must be one of {shown}, got {show(value)}{did_you_mean(value, choices)}"


class Checker:
    """Collects issues for one recipe text, locating each by its dotted key."""

    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.positions = key_positions(text)
        self.issues: list[RecipeIssue] = []

    def add(self, field: str, message: str, *, at_value: bool = False, severity: str = "error") -> None:
        line, column = self._place(field)
        if at_value and line is not None:
            column = value_column(self.text, line) or column
        self.issues.append(RecipeIssue(self.source, line, column, field, message, severity))

    def _place(self, field: str) -> tuple[int | None, int | None]:
        """The key's own position, else its table's (a missing key, an inline table's element)."""
        at = field
        while at not in self.positions:
            parent = _PARENT_RE.sub("", at)
            if parent == at or not parent:
                return None, None
            at = parent
        return self.positions[at]

    def has_error(self, field: str) -> bool:
        return any(i.field == field and i.is_error for i in self.issues)

    def sorted_issues(self) -> list[RecipeIssue]:
        return sorted(self.issues, key=lambda i: (i.line is None, i.line or 0, i.column or 0))


def value_problem(spec: KeySpec, value: Any) -> str | None:
    """What is wrong with `value` for a key of `spec` (its type, choices, range), or None."""
    if isinstance(value, str) and value in spec.words:
        return None
    kind = kind_of(value)
    accepted = {spec.kind} | ({"int"} if spec.kind == "float" else set())
    if kind not in accepted:
        words = "".join(f" or {show(w)}" for w in spec.words)
        return f"must be {_KIND_NAMES[spec.kind]}{words}, got {show(value)}"
    if spec.choices is not None and value not in spec.choices:
        return not_one_of(value, spec.choices)
    if spec.minimum is not None:
        too_small = value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum
        if too_small:
            op = ">" if spec.exclusive_minimum else ">="
            return f"must be {op} {spec.minimum:g}, got {show(value)}"
    if spec.maximum is not None and value > spec.maximum:
        return f"must be <= {spec.maximum:g}, got {show(value)}"
    return None


def check_value(chk: Checker, field: str, spec: KeySpec, value: Any) -> bool:
    problem = value_problem(spec, value)
    if problem is not None:
        chk.add(field, problem, at_value=True)
    return problem is None


def check_key_value(chk: Checker, field: str, dotted: str, value: Any, fmt: RecipeFormat = FORMAT) -> bool:
    """Check `value` against the spec of the recipe key named `dotted` ("training.learning_rate"),
    reporting at `field`: for a section whose values stand for other keys' values (a sweep)."""
    spec = fmt.key_spec(dotted)
    if spec is None:
        chk.add(field, f"not a recipe key: {dotted!r}{did_you_mean(dotted, fmt.dotted_keys())}")
        return False
    return check_value(chk, field, spec, value)
