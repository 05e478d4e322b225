"""Model output and log lines may hold control characters (a tiny model emits any byte; libraries
write colour codes). Shown raw they would corrupt the terminal, so each becomes its visible
Unicode "control picture" (U+2400 block), keeping newlines and tabs."""

from __future__ import annotations

_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\n\t"}
_PICTURES[0x7F] = "\u2421"


def printable(text: str) -> str:
    return text.translate(_PICTURES)
