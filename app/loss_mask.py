"""Text with the loss mask shown: tokens the loss trains on stand out, context stays dim."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.content import Content

from cookbook_tui.app.printable import printable

TRAINED_STYLE = "bold $text-success on $success-muted"
CONTEXT_STYLE = "$text-muted"


def segments_content(segments: Sequence[Sequence[Any]] | None, fallback: str = "") -> Content:
    """`segments` is samples.jsonl's `[[text, weight], …]`; weight > 0 means the loss sees it."""
    if not segments:
        return Content(printable(fallback))
    parts: list[tuple[str, str]] = []
    for segment in segments:
        if len(segment) < 2:
            continue
        text, weight = segment[0], segment[1]
        trained = isinstance(weight, (int, float)) and weight > 0
        parts.append((printable(str(text)), TRAINED_STYLE if trained else CONTEXT_STYLE))
    return Content.assemble(*parts)


def legend() -> Content:
    return Content.assemble(("trained", TRAINED_STYLE), "  ", ("context (no loss)", CONTEXT_STYLE))
