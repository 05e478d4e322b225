"""The recipe editor: TOML with highlighting, validation as you type, save, dry run, launch."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Footer, Header, OptionList, Static, TextArea

from cookbook_tui.app.config import RecipeEntry, is_error
from cookbook_tui.app.messages import DryRunFinished, RecipeValidated
from cookbook_tui.app.recipe_files import recipe_file_name, write_text_atomically
from cookbook_tui.app.run_launcher import dry_run_command
from cookbook_tui.app.widgets.issue_list import IssueList
from cookbook_tui.app.widgets.recipe_editor import RecipeEditor
from cookbook_tui.screens.base import CookbookScreen
from cookbook_tui.screens.dialogs import CompletionScreen, ConfirmScreen, SaveAsScreen
from cookbook_tui.screens.dry_run import DryRunScreen

if TYPE_CHECKING:  # the first frame does not load the recipe format (pydantic)
    from cookbook_tui.recipes.completion import Candidate, Completion

DRY_RUN_TIMEOUT_S = 300


class EditorScreen(CookbookScreen):
    TITLE = "Recipe"

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save"),
        Binding("f2", "save_as", "Save as", id="editor.save_as"),
        Binding("f5", "dry_run", "Dry run", id="editor.dry_run"),
        Binding("ctrl+r", "launch", "Launch", id="editor.launch"),
        Binding("f8", "next_problem", "Next problem", id="editor.next_problem"),
        # Hidden from the footer (its snapshots stay as they are); listed in the help screen.
        Binding("f3", "field_help", "Field help", id="editor.field_help", show=False),
        # Ctrl+Space reaches the app as NUL, which Textual names ctrl+@.
        Binding("ctrl+space,ctrl+@", "complete", "Complete", id="editor.complete", show=False),
        Binding("escape", "back", "Back", id="editor.back"),
    ]

    def __init__(self, recipe: RecipeEntry) -> None:
        super().__init__()
        self.recipe = recipe
        self.path: Path = Path(recipe.path)
        self.bundled = recipe.bundled
        self.saved_text = self.path.read_text(encoding="utf-8")
        self.problems: list = []
        self.validated_text: str | None = None
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="editor-title")
        yield RecipeEditor(self.saved_text, id="recipe-editor")
        yield IssueList(id="issue-list")
        yield Static(id="editor-state")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.path.name
        # The first frame shows the file's real state: validate once, synchronously.
        self.apply_validation(self.saved_text, self.validate_text(self.saved_text))
        self.editor.focus()

    @property
    def editor(self) -> RecipeEditor:
        return self.query_one(RecipeEditor)

    @property
    def text(self) -> str:
        return self.editor.text

    @property
    def dirty(self) -> bool:
        return self.text != self.saved_text

    def validate_text(self, text: str) -> list:
        return list(self.app.config.validate_recipe_text(text, str(self.path)))

    # Validation as you type: a quiet period, then a worker, then a message with the result.
    @on(TextArea.Changed, "#recipe-editor")
    def text_changed(self) -> None:
        self.show_state()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(self.app.config.validate_delay, self.start_validation)

    def start_validation(self) -> None:
        self.validate_in_background(self.text)

    @work(thread=True, exclusive=True, group="validate", exit_on_error=False, description="Validating the recipe")
    def validate_in_background(self, text: str) -> None:
        self.post_message(RecipeValidated(text, self.validate_text(text)))

    @on(RecipeValidated)
    def validated(self, message: RecipeValidated) -> None:
        if message.text == self.text:  # a result for older text is stale
            self.apply_validation(message.text, list(message.issues))

    def apply_validation(self, text: str, problems: list) -> None:
        self.validated_text = text
        self.problems = problems
        self.editor.show_problems(problems)
        self.query_one(IssueList).show_problems(problems)
        self.show_state()

    def show_state(self) -> None:
        title = Content.assemble(
            (self.recipe.name, "bold $text-accent"),
            "  ",
            (str(self.path), "$text-muted"),
            ("  (bundled: saving makes your own copy)", "$text-warning") if self.bundled else "",
        )
        self.query_one("#editor-title", Static).update(title)
        if self.validated_text != self.text:
            verdict = Content.styled("checking…", "$text-muted")
        elif self.errors:
            count = len(self.errors)
            verdict = Content.styled(f"✗ {count} problem{'s' if count > 1 else ''}", "bold $text-error")
        elif self.problems:
            count = len(self.problems)
            verdict = Content.styled(f"⚠ valid, {count} warning{'s' if count > 1 else ''}", "bold $text-warning")
        else:
            verdict = Content.styled("✓ valid", "bold $text-success")
        row, column = self.editor.cursor_location
        self.query_one("#editor-state", Static).update(
            Content.assemble(
                " ", verdict, ("  • modified" if self.dirty else "  saved", "$text-warning" if self.dirty else "$text-muted"),
                (f"   Ln {row + 1}, Col {column + 1}", "$text-muted"),
            )
        )

    @property
    def errors(self) -> list:
        return [problem for problem in self.problems if is_error(problem)]

    @on(TextArea.SelectionChanged, "#recipe-editor")
    def cursor_moved(self) -> None:
        self.show_state()

    @on(OptionList.OptionSelected, "#issue-list")
    def problem_chosen(self, event: OptionList.OptionSelected) -> None:
        problem = self.query_one(IssueList).problem_at(event.option_index)
        if problem is not None and problem.line:
            self.editor.jump_to(problem.line, problem.column)

    def action_next_problem(self) -> None:
        lines = sorted(p.line for p in self.problems if p.line)
        if not lines:
            return
        row = self.editor.cursor_location[0] + 1
        target = next((line for line in lines if line > row), lines[0])
        problem = next(p for p in self.problems if p.line == target)
        self.editor.jump_to(target, problem.column)

    def action_field_help(self) -> None:
        self.show_field_help(self.text, self.editor.cursor_location[0] + 1)

    @work(thread=True, exclusive=True, group="field-help", exit_on_error=False, description="Looking up the field")
    def show_field_help(self, text: str, line: int) -> None:
        """The key under the cursor: type, default and doc (a [cookbook]/[config] key's from its
        chz class, read once in a subprocess and cached, like validation)."""
        from cookbook_tui.recipes.field_help import field_help

        help_text = field_help(text, line) or "No recipe key on this line."
        self.app.call_from_thread(self.notify, help_text, title="Field help", timeout=10, markup=False)

    # Completion: table names, the keys of the table under the cursor, a key's choices.
    def action_complete(self) -> None:
        row, column = self.editor.cursor_location
        self.complete_in_background(self.text, row, column)

    @work(thread=True, exclusive=True, group="complete", exit_on_error=False, description="Completing")
    def complete_in_background(self, text: str, row: int, column: int) -> None:
        """Off the event loop: a [cookbook]/[config] table's fields may need the chz class read in
        a subprocess the first time (as F3 and validation do)."""
        from cookbook_tui.recipes.completion import completions

        found = completions(text, row, column)
        self.app.call_from_thread(self.offer_completion, text, row, found)

    def offer_completion(self, text: str, row: int, found: Completion | None) -> None:
        if text != self.text:  # typed on meanwhile: the columns no longer hold
            return
        if found is None:
            self.notify("Nothing to complete here.", timeout=3)
        elif len(found.candidates) == 1:
            self.insert_completion(row, found, found.candidates[0])
        else:
            self.app.push_screen(
                CompletionScreen(found.candidates),
                lambda chosen: self.insert_completion(row, found, chosen) if chosen is not None else None,
            )

    def insert_completion(self, row: int, found: Completion, candidate: Candidate) -> None:
        result = self.editor.replace(candidate.insert, (row, found.column), (row, found.end))
        self.editor.move_cursor(result.end_location)
        self.editor.focus()

    # Saving: the text exactly as typed (comments and layout are the user's), atomically.
    def action_save(self) -> None:
        if self.bundled:
            self.action_save_as()
            return
        self.save_to(self.path)

    def action_save_as(self, then: str | None = None) -> None:
        folder = self.app.config.recipes_dir

        def chosen(name: str | None) -> None:
            if not name:
                return
            target = folder / recipe_file_name(name)
            if target.exists() and target != self.path:
                self.app.push_screen(
                    ConfirmScreen(f"{target} exists. Replace it?", "Replace"),
                    lambda yes: self.save_to(target, then) if yes else None,
                )
            else:
                self.save_to(target, then)

        self.app.push_screen(SaveAsScreen(str(folder), self.path.stem), chosen)

    def save_to(self, target: Path, then: str | None = None) -> None:
        try:
            write_text_atomically(target, self.text)
        except OSError as error:
            self.notify(f"Could not save {target}: {error}", severity="error")
            return
        self.path = target
        self.bundled = False
        self.saved_text = self.text
        self.sub_title = target.name
        self.show_state()
        self.notify(f"Saved {target}")
        if then == "dry_run":
            self.action_dry_run()
        elif then == "launch":
            self.action_launch()

    def saved_path_for(self, action: str) -> Path | None:
        """Runs read the file: unsaved text is saved first (a bundled recipe gets a copy)."""
        if not self.dirty:
            return self.path
        if self.bundled:
            self.action_save_as(then=action)
        else:
            self.save_to(self.path, then=action)
        return None

    def action_dry_run(self) -> None:
        path = self.saved_path_for("dry_run")
        if path is None:
            return
        self.notify(f"Dry run of {path.name}…")
        self.dry_run_in_background(path)

    @work(thread=True, exclusive=True, group="dry-run", exit_on_error=False, description="Dry run")
    def dry_run_in_background(self, path: Path) -> None:
        command = dry_run_command(self.app.config.python, path)
        env = {**self.app.config.run_env, "FORCE_COLOR": "1", "COLUMNS": "120"}
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=DRY_RUN_TIMEOUT_S, env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
        )
        self.post_message(DryRunFinished(path, done.returncode, done.stdout + done.stderr))

    @on(DryRunFinished)
    def dry_run_finished(self, message: DryRunFinished) -> None:
        self.app.push_screen(DryRunScreen(message.recipe, message.returncode, message.output))

    def action_launch(self) -> None:
        if self.validated_text == self.text and self.errors:
            self.notify("Fix the recipe's problems before launching (F8 jumps to the next).", severity="error")
            return
        path = self.saved_path_for("launch")
        if path is None:
            return
        self.app.launch_run(path, self.recipe.name if path == Path(self.recipe.path) else path.stem)

    def action_back(self) -> None:
        if not self.dirty:
            self.dismiss()
            return
        async def discard(yes: bool | None) -> None:
            if yes:
                await self.dismiss()

        self.app.push_screen(ConfirmScreen("Discard your unsaved changes?", "Discard"), discard)
