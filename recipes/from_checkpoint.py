"""A new recipe that starts from a Tinker checkpoint: the run's own recipe when it is known
locally, else a supervised recipe on the checkpoint's base model. Comments are kept (tomlkit)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import tomlkit

from cookbook_tui.recipes.catalog import RecipeInfo

TEMPLATE = """\
# Continues training from {path}
name = "{name}"
description = "Supervised fine-tuning from a Tinker checkpoint"
workflow = "sl"
backend = "tinker"

[model]
name = "{base_model}"
renderer = "{renderer}"
load_checkpoint = "{path}"

[dataset]
path = "conversations.jsonl"   # your chat data: one {{"messages": [...]}} per line

[training]
learning_rate = 1e-4
max_steps = 100
"""


def recipe_from_checkpoint(
    tinker_path: str, base_model: str, local_run_dir: Path | None, recipes_dir: Path, renderer: str | None = None
) -> RecipeInfo:
    """Write `<recipes_dir>/<name>.toml` (a fresh name) and describe it for the editor."""
    checkpoint = tinker_path.rstrip("/").rsplit("/", 1)[-1]
    source = local_run_dir / "recipe.toml" if local_run_dir else None
    if source is not None and source.is_file():
        doc = tomlkit.parse(source.read_text(encoding="utf-8"))
        name = f"{doc.get('name', 'recipe')}-from-{checkpoint}"
        doc["name"] = name
        model = doc.setdefault("model", tomlkit.table())
        model["load_checkpoint"] = tinker_path
        text = tomlkit.dumps(doc)
    else:
        name = f"{base_model.rsplit('/', 1)[-1] or 'model'}-from-{checkpoint}"
        # The cookbook records the renderer in the run's metadata; qwen3_instruct is a guess.
        text = TEMPLATE.format(path=tinker_path, name=name, base_model=base_model, renderer=renderer or "qwen3_instruct")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "recipe"
    recipes_dir.mkdir(parents=True, exist_ok=True)
    path, n = recipes_dir / f"{slug}.toml", 1
    while path.exists():
        n += 1
        path = recipes_dir / f"{slug}-{n}.toml"
    from cookbook_tui.common.files import write_atomic

    write_atomic(path, text)
    data = tomllib.loads(text)
    return RecipeInfo(
        name=data.get("name", slug), path=path, workflow=data.get("workflow", "?"),
        backend=data.get("backend", "local"), description=data.get("description", ""), bundled=False,
    )
