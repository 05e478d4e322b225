"""A run's note and tags, the user's own words about it: `notes.json` in the run dir.

    {"note": "baseline for the lr sweep", "tags": ["baseline", "lr-sweep"]}

Written by the TUI (`n` note, `#` tags on the run and runs screens) atomically; read by the runs
list (shown, searched, `tag:NAME` in its filter), compare and export. Part of the run-dir
contract (stdlib only), beside rundir.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cookbook_tui.common.files import write_atomic
from cookbook_tui.runners.rundir import read_json

NOTES_FILE = "notes.json"


@dataclass(frozen=True)
class RunNotes:
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """`#baseline #lr-sweep  the note`, for a table cell."""
        return "  ".join(part for part in (" ".join(f"#{t}" for t in self.tags), self.note) if part)


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags as typed: separated by spaces or commas, a leading `#` optional, each once, in order."""
    tags: dict[str, None] = {}
    for word in re.split(r"[\s,]+", text):
        tag = word.lstrip("#")
        if tag:
            tags[tag] = None
    return tuple(tags)


def read_notes(run_dir: Path) -> RunNotes:
    data = read_json(Path(run_dir) / NOTES_FILE) or {}
    note = data.get("note")
    tags = data.get("tags")
    return RunNotes(
        note if isinstance(note, str) else "",
        tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else (),
    )


def write_notes(run_dir: Path, notes: RunNotes) -> None:
    data = asdict(notes)
    data["tags"] = list(notes.tags)
    write_atomic(Path(run_dir) / NOTES_FILE, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
