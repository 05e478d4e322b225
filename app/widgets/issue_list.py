"""The recipe's problems, one a row with its line; choosing one moves the editor there."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from cookbook_tui.app.config import RecipeProblem, is_error


def describe(problem: RecipeProblem) -> Content:
    where = f"line {problem.line}" if problem.line else "recipe"
    field = f"{problem.field}: " if problem.field else ""
    kind = ("error  ", "bold $text-error") if is_error(problem) else ("warning", "bold $text-warning")
    return Content.assemble((f"{where:>8}  ", "$text-muted"), kind, "  ", field, problem.message)


class IssueList(OptionList):
    DEFAULT_CSS = """
    IssueList { height: auto; max-height: 8; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.problems: list[RecipeProblem] = []

    def show_problems(self, problems: Sequence[RecipeProblem]) -> None:
        self.problems = list(problems)
        self.clear_options()
        self.add_options([Option(describe(problem), id=str(index)) for index, problem in enumerate(self.problems)])
        self.display = bool(self.problems)

    def on_focus(self) -> None:
        # Tab from the editor lands on the first problem, so Enter jumps to it straight away.
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def problem_at(self, index: int) -> RecipeProblem | None:
        return self.problems[index] if 0 <= index < len(self.problems) else None
