"""TOML syntax errors as issues: tomllib's message with its line and column, and an unterminated
string called that at its opening quote (tomllib reports where the line or the file ends)."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from cookbook_tui.recipes.issues import RecipeIssue

_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_toml(text: str, source: str) -> dict[str, Any] | RecipeIssue:
    """The data, or the syntax issue when the text is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return syntax_issue(exc, source, text)


def _unclosed_quote(line_text: str) -> tuple[int, str] | None:
    """(0-based column, quote) of a string opened on this line and not closed on it, if any."""
    at, open_quote = 0, None
    start = 0
    while at < len(line_text):
        char = line_text[at]
        if open_quote is None:
            if char == "#":
                return None
            if char in "\"'":
                open_quote, start = char, at
        elif char == "\\" and open_quote == '"':
            at += 1  # an escaped character, the quote included
        elif char == open_quote:
            open_quote = None
        at += 1
    return (start, open_quote) if open_quote else None


def syntax_issue(exc: tomllib.TOMLDecodeError, source: str, text: str = "") -> RecipeIssue:
    message = str(exc)
    match = _TOML_POS_RE.search(message)
    line = column = None
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    message = message[:1].lower() + message[1:]
    lines = text.splitlines()
    unclosed = None
    if line and line <= len(lines) and message.startswith(("illegal character '\\n'", "illegal character '\\r'")):
        # tomllib's words for a string that reaches the end of its line
        unclosed = line, _unclosed_quote(lines[line - 1])
    elif line is None and message.startswith(('expected "\'"', "unterminated string")):
        # a string still open at the end of the file: the first line that leaves one open
        unclosed = next(((n, q) for n, q in ((n, _unclosed_quote(t)) for n, t in enumerate(lines, 1)) if q), None)
    if unclosed and unclosed[1]:
        line, (start, quote) = unclosed[0], unclosed[1]
        return RecipeIssue(
            source, line, start + 1, "syntax",
            f"invalid TOML: unterminated string (the {quote} here is not closed on this line)",
        )
    return RecipeIssue(source, line, column, "syntax", f"invalid TOML: {message}")
