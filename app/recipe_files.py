"""Saving the user's recipe text: byte for byte what they typed (comments kept), atomically."""

from __future__ import annotations

import re

# Byte for byte what the user typed, atomically: the run dir's writer does exactly that.
from cookbook_tui.common.files import write_atomic as write_text_atomically

__all__ = ["write_text_atomically", "recipe_file_name"]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def recipe_file_name(name: str) -> str:
    """A file name for save-as: the user's name, made safe, ending in .toml."""
    stem = _UNSAFE.sub("-", name.strip()).strip("-.") or "recipe"
    return stem if stem.endswith(".toml") else f"{stem}.toml"

