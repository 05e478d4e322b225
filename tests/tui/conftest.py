"""TUI test fixtures: no cursor blink, and a working directory inside the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from .factory import FIXTURES


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes snapshots depend on timing."""
    monkeypatch.setattr(Input, "cursor_blink", False)
    monkeypatch.setattr(TextArea, "cursor_blink", False)


@pytest.fixture
def in_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(FIXTURES)
    return FIXTURES
