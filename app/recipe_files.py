"""Saving the user's recipe text: byte for byte what they typed (comments kept), atomically."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def write_text_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def recipe_file_name(name: str) -> str:
    """A file name for save-as: the user's name, made safe, ending in .toml."""
    stem = _UNSAFE.sub("-", name.strip()).strip("-.") or "recipe"
    return stem if stem.endswith(".toml") else f"{stem}.toml"

