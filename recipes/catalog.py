"""The recipes a user can pick: bundled ones, ./recipes/*.toml and the user config dir's recipes/."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cookbook_tui.common.dirs import user_config_dir
from cookbook_tui.recipes.paths import BUNDLED_DIR


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    path: Path
    workflow: str
    backend: str
    description: str
    bundled: bool


def _info(path: Path, bundled: bool) -> RecipeInfo:
    """What the list shows; a recipe that does not parse still appears, so the user can fix it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}

    def text(key: str, default: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else default

    return RecipeInfo(
        name=text("name", path.stem),
        path=path,
        workflow=text("workflow", "?"),
        backend=text("backend", "local"),
        description=text("description", ""),
        bundled=bundled,
    )


def recipe_dirs(extra_dirs: Iterable[Path | str] = ()) -> list[tuple[Path, bool]]:
    """(folder, bundled) in listing order."""
    dirs = [(BUNDLED_DIR, True), (Path.cwd() / "recipes", False), (user_config_dir() / "recipes", False)]
    dirs += [(Path(d), False) for d in extra_dirs]
    return dirs


def list_recipes(extra_dirs: Iterable[Path | str] = ()) -> list[RecipeInfo]:
    seen: set[Path] = set()
    infos: list[RecipeInfo] = []
    for folder, bundled in recipe_dirs(extra_dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            resolved = path.resolve()
            if resolved in seen:  # ./recipes may be the bundled folder itself in a source checkout
                continue
            seen.add(resolved)
            infos.append(_info(path, bundled))
    return infos


def recipe_info(path: Path | str) -> RecipeInfo:
    """What the list would show for one recipe file anywhere (`cookbook-tui edit FILE`)."""
    path = Path(path)
    return _info(path, bundled=path.resolve().parent == BUNDLED_DIR.resolve())
