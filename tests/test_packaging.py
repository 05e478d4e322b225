"""`pip install .` ships every subpackage: each folder with an __init__.py is listed in pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every top-level folder with an __init__.py is a room of the package, but these two.
NOT_SHIPPED = {"tests", "benchmarks"}
FOLDERS = {
    d.name: f"cookbook_tui.{d.name}"
    for d in sorted(ROOT.iterdir())
    if (d / "__init__.py").is_file() and d.name not in NOT_SHIPPED
}


def test_the_rooms_are_the_ones_the_layout_names() -> None:
    assert set(FOLDERS) == {"app", "screens", "monitor", "cli", "runners", "recipes", "engine", "common"}


def test_every_subpackage_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {name: folder for folder, name in FOLDERS.items()}
    found = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts or "fixtures" in rel.parts:
                continue
            found.add(".".join([name, *rel.parts]))
    assert found == set(config["packages"])
