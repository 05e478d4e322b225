"""Chart layouts that last: pins, merged charts, smoothing, x axis, log-Y and filter, saved per kind
of run in the user config dir (`layouts.toml`) and restored when a run of that kind opens.

A kind is the workflow (`rl`, `sl`, …), or `cookbook:<entry module>` for `workflow = "cookbook"`,
whose runs log whatever their module logs. One table per kind:

    [rl]
    pinned = ["env/all/reward/total", "optim/kl_sample_train_v1"]
    merged = [["env/all/reward/total", "test/env/all/reward/total"]]
    smoothing = 0.8

A file that does not parse, or holds a value that is not one, is an error naming file:line (never
a silent default): the caller shows it and leaves the file alone until it is fixed.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from cookbook_tui.common.files import write_atomic
from cookbook_tui.monitor.chart_grid_model import DEFAULT_SMOOTHING, X_AXES, GridModel
from cookbook_tui.monitor.chart_merge import ChartMerges
from cookbook_tui.monitor.chart_model import SMOOTHING_MAX, ChartOrder
from cookbook_tui.recipes.locate import key_positions
from cookbook_tui.runners.rundir import RECIPE_FILE

LAYOUTS_FILE = "layouts.toml"
HEADER = "# cookbook-tui chart layouts, one table per kind of run (workflow, or cookbook:<entry module>)\n"


class LayoutError(ValueError):
    """A layouts file that cannot be read; str() is `file:line: what is wrong`."""


@dataclass
class GridLayout:
    pinned: list[str] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)  # headline charts the user unpinned
    merged: list[list[str]] = field(default_factory=list)
    smoothing: float = DEFAULT_SMOOTHING
    x_axis: str = "step"
    filter: str = ""
    log_y: list[str] = field(default_factory=list)


def layout_kind(workflow: str | None, entry: str | None = None) -> str | None:
    """The kind of run a layout is kept for; None when the run does not say its workflow."""
    if not workflow:
        return None
    return f"cookbook:{entry}" if workflow == "cookbook" and entry else workflow


def run_layout_kind(run_dir: Path, workflow: str | None) -> str | None:
    """A run dir's kind: its workflow, and for `cookbook` the `entry` of its recipe.toml."""
    entry = None
    if workflow == "cookbook":
        try:
            value = tomllib.loads((run_dir / RECIPE_FILE).read_text(encoding="utf-8")).get("entry")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            value = None
        entry = value if isinstance(value, str) else None
    return layout_kind(workflow, entry)


# ---- between a grid and its layout
def layout_of(model: GridModel) -> GridLayout:
    return GridLayout(
        pinned=list(model.order.pinned), unpinned=sorted(model.order.unpinned),
        merged=[list(group) for group in model.merges.groups],
        smoothing=model.smoothing, x_axis=model.x_axis, filter=model.filter_text, log_y=sorted(model.log_y),
    )


def apply_layout(model: GridModel, layout: GridLayout) -> None:
    # Headline charts neither pinned nor unpinned here are pinned as usual when they first appear.
    model.order = ChartOrder(pinned=list(layout.pinned), unpinned=set(layout.unpinned))
    model.merges = ChartMerges([tuple(group) for group in layout.merged])
    model.marked = []
    model.smoothing = layout.smoothing
    if layout.smoothing:
        model.last_smoothing = layout.smoothing
    model.x_axis = layout.x_axis
    model.log_y = set(layout.log_y)
    model.set_filter(layout.filter)


# ---- the file
def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


FIELD_CHECKS: dict[str, tuple[Any, str]] = {
    "pinned": (_strings, "a list of metric names"),
    "unpinned": (_strings, "a list of metric names"),
    "log_y": (_strings, "a list of chart names"),
    "merged": (lambda v: isinstance(v, list) and all(_strings(g) and len(g) >= 2 for g in v),
               "a list of lists of two or more metric names"),
    "smoothing": (lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                  and 0 <= v <= SMOOTHING_MAX, f"a number from 0 to {SMOOTHING_MAX}"),
    "x_axis": (lambda v: v in X_AXES, "one of " + ", ".join(f'"{a}"' for a in X_AXES)),
    "filter": (lambda v: isinstance(v, str), "a string (a regex on metric names)"),
}


def parse_layouts(text: str, path: Path) -> dict[str, GridLayout]:
    """Every kind's layout in a layouts file's text; LayoutError names the file and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LayoutError(f"{path}:{_toml_error(error, text)}") from None
    positions = key_positions(text)

    def where(key: str) -> str:
        line = positions.get(key, (None,))[0]
        return f"{path}:{line}" if line else str(path)

    layouts = {}
    for kind, table in data.items():
        if not isinstance(table, dict):
            raise LayoutError(f"{where(kind)}: {kind}: must be a table of layout settings ([{kind}])")
        for key, value in table.items():
            check = FIELD_CHECKS.get(key)
            if check is None:
                raise LayoutError(f"{where(f'{kind}.{key}')}: {kind}.{key}: unknown key (known: {', '.join(FIELD_CHECKS)})")
            if not check[0](value):
                raise LayoutError(f"{where(f'{kind}.{key}')}: {kind}.{key}: must be {check[1]}, got {value!r}")
        values: dict[str, Any] = dict(table)
        if "smoothing" in values:
            values["smoothing"] = float(values["smoothing"])
        layouts[kind] = GridLayout(**values)
    return layouts


def _toml_error(error: tomllib.TOMLDecodeError, text: str) -> str:
    """`3:5: Unclosed array` from tomllib's "Unclosed array (at line 3, column 5)", so the
    message starts with file:line (an error at the end of the document is on its last line)."""
    message = str(error)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
    if found:
        return f"{found[1]}:{found[2]}: {message[: found.start()]}"
    end = re.search(r"\s*\(at end of document\)", message)
    if end:
        return f"{max(len(text.splitlines()), 1)}: {message[: end.start()]} (at the end of the file)"
    return f" {message}"


def load_layouts(path: Path) -> dict[str, GridLayout]:
    """The saved layouts ({} when there is no file yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise LayoutError(f"{path}: cannot be read ({error})") from None
    return parse_layouts(text, path)


def save_layout(path: Path, kind: str, layout: GridLayout | None) -> None:
    """Write `kind`'s layout (None: remove it, back to the default), keeping the other kinds and any
    comments; refuses (LayoutError) to replace a file that does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = HEADER
    parse_layouts(text, path)  # never overwrite a file the user must fix
    document = tomlkit.parse(text)
    if layout is None:
        document.pop(kind, None)
    else:
        table = tomlkit.table()
        for key, value in asdict(layout).items():
            table[key] = value
        document[kind] = table
    write_atomic(path, tomlkit.dumps(document))
