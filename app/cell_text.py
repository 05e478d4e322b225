"""Table cells that fit: a long name is cut with an ellipsis so the columns after it stay on
screen (DataTable sizes a column to its widest cell); the full text lives in a detail pane."""

from __future__ import annotations

import os
from pathlib import Path

from rich.cells import cell_len

ELLIPSIS = "…"


def ellipsize(text: str, width: int, *, keep_end: bool = False) -> str:
    """`text` in at most `width` cells; `keep_end` cuts the start instead (paths: the file name
    is the telling part)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    if keep_end:
        kept = text[-(width - 1):]
        while cell_len(kept) > width - 1:
            kept = kept[1:]
        return ELLIPSIS + kept
    kept = text[: width - 1]
    while cell_len(kept) > width - 1:
        kept = kept[:-1]
    return kept + ELLIPSIS


def short_path(path: Path | str) -> str:
    """Relative to the working folder when inside it, else with the home folder as ~."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except ValueError:
        home = os.path.expanduser("~")
        text = str(path)
        return "~" + text[len(home):] if home not in ("", "/") and text.startswith(home + os.sep) else text


def reset_column_widths(table, width: int) -> None:
    """After `DataTable.clear()`, when the table's `width` changed: columns keep the widest cell
    they ever held, so cells cut for a narrower terminal would still sit in a column laid out for
    a wider one. Back to the labels (the rows added next widen them again, on the next idle)."""
    if getattr(table, "_cells_cut_for", None) == width:
        return
    table._cells_cut_for = width
    for column in table.columns.values():
        if column.auto_width:
            column.content_width = cell_len(column.label.plain)
