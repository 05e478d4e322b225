"""What validation reports: one `RecipeIssue` per problem, and the error that carries them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecipeIssue:
    """One problem in a recipe, located as precisely as the check allows.

    `line`/`column` are 1-based, or None when the problem has no place in the text (a missing
    required key, a missing environment variable). `severity` is "error" (the recipe cannot run)
    or "warning" (it can, but something looks off, e.g. the hub is unreachable for a recipe that
    only needs it on the Tinker service).
    """

    source: str
    line: int | None
    column: int | None
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        place = self.source
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        prefix = "warning: " if self.severity == "warning" else ""
        field = f"{self.field}: " if self.field else ""
        return f"{place}: {field}{prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class RecipeError(Exception):
    """A recipe that cannot be used; `.issues` lists every problem found (errors and warnings)."""

    def __init__(self, issues: list[RecipeIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

    @property
    def errors(self) -> list[RecipeIssue]:
        return [i for i in self.issues if i.is_error]
