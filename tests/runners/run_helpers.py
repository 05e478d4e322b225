"""Running bundled recipes through the real CLI, at test size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomlkit

from cookbook_tui.recipes.paths import BUNDLED_DIR
from cookbook_tui.runners import rundir


def reduced_recipe(name: str, dest: Path, **sections: dict[str, Any]) -> Path:
    """A bundled recipe with some keys changed (`training={"max_steps": 5}`), written to `dest`."""
    doc = tomlkit.parse((BUNDLED_DIR / f"{name}.toml").read_text())
    for section, values in sections.items():
        table = doc.setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    path = dest / f"{name}.toml"
    path.write_text(tomlkit.dumps(doc))
    return path


def cli(*args: str, timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookbook_tui.cli", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cookbook_tui.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def series(run_dir: Path, key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in rundir.read_metrics(run_dir) if key in r]


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
