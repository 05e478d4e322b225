"""Messages that workers and widgets post; handlers update the screens (workers never touch widgets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from cookbook_tui.app.config import RecipeProblem

if TYPE_CHECKING:
    from cookbook_tui.app.widgets.runs_table import RunRow


@dataclass
class RecipeValidated(Message):
    """Validation of the editor's text finished; `text` is what was validated."""

    text: str
    issues: Sequence[RecipeProblem]


@dataclass
class DryRunFinished(Message):
    recipe: Path
    returncode: int
    output: str


@dataclass
class RunProcessExited(Message):
    """A run the app started has exited (the run dir's status.json says how it went)."""

    run_dir: Path
    returncode: int
    output_tail: str


@dataclass
class RunDirRead(Message):
    """A worker read a run dir's history; `changed` names the parts that have new data."""

    changed: set[str]


@dataclass
class RunsRead(Message):
    """A worker read every run under the runs folder (status, metrics, alarms), for the Runs table."""

    rows: list[RunRow]


@dataclass
class RunDeleted(Message):
    """A worker deleted a run's folder."""

    run_dir: Path


@dataclass
class CheckpointReply(Message):
    """A sampled completion from a checkpoint, for the chat box (or why there is none)."""

    prompt: str
    completion: str
    error: str | None = None



@dataclass
class ChartCursorMoved(Message):
    """The chart grid's inspect cursor is on `step` (None: no cursor); the samples pane follows it."""

    step: float | None
