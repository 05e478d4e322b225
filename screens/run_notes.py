"""`n` and `#` on the run and runs screens: ask for a run's note or tags and save them (notes.json)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual.screen import Screen

from cookbook_tui.runners.run_notes import RunNotes, parse_tags, read_notes, write_notes
from cookbook_tui.screens.dialogs import AskScreen


def ask_note(screen: Screen, run_dir: Path, notes: RunNotes, saved: Callable[[], object]) -> None:
    def answered(text: str | None) -> None:
        if text is not None:
            save_notes(screen, run_dir, lambda now: replace(now, note=text), saved)

    screen.app.push_screen(AskScreen(f"Note for {run_dir.parent.name}/{run_dir.name} (empty clears it)", notes.note,
                                     "e.g. what this run tries", input_id="note-value", allow_empty=True), answered)


def ask_tags(screen: Screen, run_dir: Path, notes: RunNotes, saved: Callable[[], object]) -> None:
    def answered(text: str | None) -> None:
        if text is not None:
            save_notes(screen, run_dir, lambda now: replace(now, tags=parse_tags(text)), saved)

    screen.app.push_screen(AskScreen(f"Tags for {run_dir.parent.name}/{run_dir.name} (spaces or commas between)",
                                     " ".join(notes.tags), "e.g. baseline lr-sweep", input_id="tags-value",
                                     allow_empty=True), answered)


def save_notes(screen: Screen, run_dir: Path, change: Callable[[RunNotes], RunNotes], saved: Callable[[], object]) -> None:
    """In a thread worker: the note file as it is now, changed, written atomically; then `saved`."""

    def write() -> None:
        write_notes(run_dir, change(read_notes(run_dir)))
        screen.app.call_from_thread(saved)

    screen.run_worker(write, thread=True, group="run-notes", exit_on_error=False, description="Saving the run's note and tags")
