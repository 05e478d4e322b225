"""A validated recipe, ready for a runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cookbook_tui.recipes.issues import RecipeError, RecipeIssue
from cookbook_tui.recipes.paths import base_dir_for, resolve_data_path
from cookbook_tui.recipes.validate import check_recipe_text


@dataclass(frozen=True)
class Recipe:
    """The recipe's settings with defaults filled in (`settings["training"]["learning_rate"]`),
    its text as written, and where relative paths resolve from."""

    name: str
    workflow: str
    backend: str
    path: Path | None
    text: str
    settings: dict[str, Any]
    base_dir: Path
    warnings: list[RecipeIssue] = field(default_factory=list)

    def section(self, name: str) -> dict[str, Any]:
        return self.settings.get(name, {})

    @property
    def description(self) -> str:
        return self.settings.get("description") or ""

    @property
    def model_name(self) -> str:
        if self.is_entry_module:  # [config].model_name, else the entry CLIConfig's default
            return self.settings.get("entry_model") or "(the entry's default)"
        return self.settings["model"]["name"]

    @property
    def renderer_name(self) -> str | None:
        """The renderer the run used: model.renderer (defaulted from model_info by the
        validator), or an entry module's [config].renderer_name, else model_info's choice."""
        if not self.is_entry_module:
            return self.settings["model"]["renderer"]
        from cookbook_tui.recipes.validate import recommended_renderer

        return self.cookbook_fields.get("renderer_name") or recommended_renderer(self.model_name)

    @property
    def is_entry_module(self) -> bool:
        """workflow = "cookbook": `entry` names a module run as `python -m entry key=value …`."""
        return self.workflow == "cookbook"

    @property
    def entry(self) -> str | None:
        return self.settings.get("entry")

    @property
    def cookbook_fields(self) -> dict[str, Any]:
        """[cookbook] (curated workflows) or [config] (workflow "cookbook"): chz field values."""
        return self.settings.get("config" if self.is_entry_module else "cookbook") or {}

    @property
    def has_warmup(self) -> bool:
        return bool(self.settings.get("warmup", {}).get("path"))

    @property
    def warmup_mid_step(self) -> int | None:
        """The intermediate warmup step a checkpoint field names ("warmup:N"), if any."""
        from cookbook_tui.recipes.schema import warmup_ref_step

        for value in (self.section("model").get("load_checkpoint"), self.section("teacher").get("checkpoint")):
            step = warmup_ref_step(value)
            if step not in (None, False):
                return step
        return None

    def data_path(self, value: str) -> Path:
        return resolve_data_path(value, self.base_dir)

    def with_backend(self, backend: str) -> Recipe:
        settings = dict(self.settings, backend=backend)
        return Recipe(self.name, self.workflow, backend, self.path, self.text, settings, self.base_dir, self.warnings)


def recipe_from_text(
    text: str,
    source: str = "<recipe>",
    *,
    deep: bool = False,
    backend: str | None = None,
    environ: dict[str, str] | None = None,
    base_dir: Path | None = None,
) -> Recipe:
    """Validate and build a Recipe; raises RecipeError when any error is found.

    `backend` overrides the recipe's own (the CLI's --backend) before the backend checks run;
    `base_dir` is where relative data paths resolve (default: the recipe file's folder).
    """
    if backend is not None:
        text = _override_backend(text, backend)
    base = base_dir if base_dir is not None else base_dir_for(source)
    issues, settings = check_recipe_text(text, source, deep=deep, environ=environ, base_dir=base)
    if settings is None or any(i.is_error for i in issues):
        raise RecipeError(issues)
    path = Path(source) if not source.startswith("<") else None
    name = settings.get("name") or (path.stem if path else "recipe")
    return Recipe(
        name=name,
        workflow=settings["workflow"],
        backend=settings["backend"],
        path=path,
        text=text,
        settings=settings,
        base_dir=base,
        warnings=[i for i in issues if not i.is_error],
    )


def _override_backend(text: str, backend: str) -> str:
    import tomlkit

    try:
        doc = tomlkit.parse(text)
    except Exception:  # leave syntax errors to the validator, which locates them
        return text
    doc["backend"] = backend
    return tomlkit.dumps(doc)


def load_recipe(
    path: str | Path, *, deep: bool = False, backend: str | None = None, base_dir: Path | None = None
) -> Recipe:
    """Read and validate a recipe file; raises RecipeError (with `.issues`) on any error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RecipeError([RecipeIssue(str(path), None, None, "", f"cannot read recipe: {reason}")]) from None
    return recipe_from_text(text, str(path), deep=deep, backend=backend, base_dir=base_dir)
