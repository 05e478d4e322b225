"""Where the product keeps its files outside a project: the engine's data dir and the user config
dir. Here, in the shared room, so the TUI can name them without importing the engine."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The local engine's data dir (checkpoints, sessions): `data_dir`, else
    `$COOKBOOK_TUI_DATA_DIR`, else the user data dir. Here, not in the engine package, so the TUI
    can name the folder without importing the engine."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("COOKBOOK_TUI_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("cookbook-tui"))


def user_config_dir() -> Path:
    explicit = os.environ.get("COOKBOOK_TUI_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cookbook-tui"))
