"""Where recipe files and the data they name live."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "bundled"
DATA_DIR = PACKAGE_DIR / "data"
# `bundled:NAME` names a data file shipped in recipes/data, so a bundled recipe copied anywhere
# (the TUI's "save as", a user's ./recipes) still finds its data.
BUNDLED_PREFIX = "bundled:"


def resolve_data_path(value: str, base_dir: Path) -> Path:
    if value.startswith(BUNDLED_PREFIX):
        return DATA_DIR / value[len(BUNDLED_PREFIX) :]
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def base_dir_for(source: str) -> Path:
    """Relative paths in a recipe are relative to its file; text with no file uses the cwd."""
    path = Path(source)
    if source and not source.startswith("<") and path.suffix == ".toml":
        return path.resolve().parent
    return Path.cwd()
