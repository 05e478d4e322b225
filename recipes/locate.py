"""Where each key of a TOML text sits: dotted key -> (line, column), both 1-based.

tomllib gives values but no positions, so this scans the text line by line, the way a reader
would: `[table]` headers set the prefix, `key = value` lines (dotted or quoted keys too) name a
key under it; each `[[array]]` header opens an element, whose keys are "array[0].key", …. Multi-line strings and arrays are skipped so their contents never look like keys.
It only has to be right for text that already parsed; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_BARE_KEY = r"[A-Za-z0-9_-]+"
_KEY_PART = rf"(?:{_BARE_KEY}|\"[^\"]*\"|'[^']*')"
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_ASSIGN_RE = re.compile(rf"^(\s*)({_DOTTED})\s*=\s*(.*)$")
_PART_RE = re.compile(_KEY_PART)
_INDEX_RE = re.compile(r"\[\d+\]")


def _split_key(text: str) -> list[str]:
    return [p.strip("\"'") for p in _PART_RE.findall(text)]


def _opens_multiline(value: str) -> str | None:
    """The closing delimiter a value leaves open at the end of its line, if any."""
    for quote in ('"""', "'''"):
        if value.startswith(quote) and value.count(quote) == 1:
            return quote
    if value.startswith("["):
        depth = 0
        in_str: str | None = None
        for ch in value:
            if in_str:
                if ch == in_str:
                    in_str = None
            elif ch in "\"'":
                in_str = ch
            elif ch == "#":
                break
            elif ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
        if depth > 0:
            return "]"
    return None


def unindexed(dotted: str) -> str:
    """"evals[1].every" -> "evals.every": the declared key an element's key is an instance of."""
    return _INDEX_RE.sub("", dotted)


def _indexed(parts: list[str], arrays: dict[str, int], opens_element: bool) -> list[str]:
    """A header's key with each array of tables in it named by element: `[[evals]]` is
    "evals[0]", then "evals[1]"; `[evals.sub]` under the second is "evals[1].sub"."""
    if not arrays and not opens_element:
        return parts
    out: list[str] = []
    for at, part in enumerate(parts):
        name = ".".join(parts[: at + 1])
        if opens_element and at == len(parts) - 1:
            arrays[name] = arrays.get(name, -1) + 1
        out.append(f"{part}[{arrays[name]}]" if name in arrays else part)
    return out


def _walk(text: str) -> Iterator[tuple[int, str, list[str], re.Match[str] | None, re.Match[str] | None]]:
    """(line number, line, table prefix in force, header match, assignment match) for each line
    outside a multi-line string or array."""
    prefix: list[str] = []
    closing: str | None = None
    arrays: dict[str, int] = {}  # array of tables -> index of its latest element
    for lineno, line in enumerate(text.splitlines(), start=1):
        if closing:
            if closing in line:
                closing = None
            continue
        header = _HEADER_RE.match(line)
        if header:
            prefix = _indexed(_split_key(header.group(2)), arrays, header.group(1) == "[[")
            yield lineno, line, prefix, header, None
            continue
        assign = _ASSIGN_RE.match(line)
        if assign:
            closing = _opens_multiline(assign.group(3).strip())
        yield lineno, line, prefix, None, assign


def key_positions(text: str) -> dict[str, tuple[int, int]]:
    """Map every key (and table header) to its position; values' columns are not tracked."""
    positions: dict[str, tuple[int, int]] = {}
    for lineno, line, prefix, header, assign in _walk(text):
        if header:
            place = (lineno, line.index(header.group(2)) + 1)
            table = ".".join(prefix)
            positions.setdefault(table, place)
            if "[" in table:
                positions.setdefault(unindexed(table), place)  # "evals": its first element
        elif assign:
            parts = prefix + _split_key(assign.group(2))
            positions.setdefault(".".join(parts), (lineno, len(assign.group(1)) + 1))
    return positions


def table_at(text: str, line: int) -> str:
    """The dotted table a key written on `line` (1-based) belongs to ("" at the top level)."""
    table = ""
    for lineno, _, prefix, _, _ in _walk(text):
        if lineno >= line:
            break
        table = ".".join(prefix)
    return table


def value_column(text: str, line: int) -> int | None:
    """The column where the value of the `key = value` on `line` starts."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return None
    match = _ASSIGN_RE.match(lines[line - 1])
    if not match:
        return None
    return match.start(3) + 1
