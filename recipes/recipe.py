"""A validated recipe, ready for a runner."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from cookbook_tui.recipes.chz_schema import may_import_here
from cookbook_tui.recipes.issues import RecipeError, RecipeIssue
from cookbook_tui.recipes.paths import base_dir_for, resolve_data_path
from cookbook_tui.recipes.resolve import resolve
from cookbook_tui.recipes.schema import (
    COOKBOOK_WORKFLOW,
    DatasetSection,
    DpoSection,
    EnvSection,
    ModelSection,
    RecipeSettings,
    RolloutsSection,
    SamplesSection,
    Section,
    TeacherSection,
    TrainingSection,
    WarmupSection,
    warmup_ref_step,
)
from cookbook_tui.recipes.syntax import parse_toml
from cookbook_tui.recipes.validate import check_parsed

_S = TypeVar("_S", bound=Section)


class _Section(Generic[_S]):
    """`recipe.training` for `recipe.settings.training`, typed as the section's model."""

    def __init__(self, model: type[_S]) -> None:
        self.model = model

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, recipe: Recipe, owner: type | None = None) -> _S:
        return getattr(recipe.settings, self.name)


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: its typed settings with defaults filled in (`recipe.training.learning_rate`,
    the models of `schema.py`), its text as written, and where relative paths resolve from."""

    name: str
    path: Path | None
    text: str
    settings: RecipeSettings
    base_dir: Path
    warnings: list[RecipeIssue] = field(default_factory=list)
    # workflow "cookbook": [config].model_name, else the entry CLIConfig's default (None: unknown).
    entry_model: str | None = None

    @property
    def workflow(self) -> str:
        return self.settings.workflow

    @property
    def backend(self) -> str:
        return self.settings.backend

    @property
    def description(self) -> str:
        return self.settings.description

    @property
    def model(self) -> ModelSection:
        """[model] (every curated workflow has one; workflow "cookbook" names its model in [config])."""
        if self.settings.model is None:
            raise AttributeError(f"workflow {self.workflow!r} has no [model] section")
        return self.settings.model

    # The sections every curated workflow may read without a check (absent ones hold defaults).
    dataset = _Section(DatasetSection)
    env = _Section(EnvSection)
    rollouts = _Section(RolloutsSection)
    training = _Section(TrainingSection)
    dpo = _Section(DpoSection)
    teacher = _Section(TeacherSection)
    samples = _Section(SamplesSection)

    @property
    def warmup(self) -> WarmupSection | None:
        return self.settings.warmup

    @property
    def model_name(self) -> str:
        if self.is_entry_module:
            return self.entry_model or "(the entry's default)"
        return self.model.name

    @property
    def renderer(self) -> str:
        """[model].renderer as resolved: when the recipe leaves it out, resolve() fills in
        tinker_cookbook.model_info's choice (the validator reports a model it has none for)."""
        renderer = self.model.renderer
        assert renderer is not None, "resolve() fills in model.renderer"
        return renderer

    @property
    def renderer_name(self) -> str | None:
        """The renderer the run used: model.renderer (defaulted from model_info by resolve()),
        or an entry module's [config].renderer_name, else model_info's choice."""
        if not self.is_entry_module:
            return self.model.renderer
        from cookbook_tui.recipes.defaults import recommended_renderer

        return self.cookbook_fields.get("renderer_name") or recommended_renderer(self.model_name)

    @property
    def is_entry_module(self) -> bool:
        """workflow = "cookbook": `entry` names a module run as `python -m entry key=value …`."""
        return self.workflow == COOKBOOK_WORKFLOW

    @property
    def entry(self) -> str | None:
        return self.settings.entry

    @property
    def cookbook_fields(self) -> dict[str, Any]:
        """[cookbook] (curated workflows) or [config] (workflow "cookbook"): chz field values."""
        return self.settings.config if self.is_entry_module else self.settings.cookbook

    @property
    def has_warmup(self) -> bool:
        return self.warmup is not None

    @property
    def checkpoint_refs(self) -> tuple[str | None, str | None]:
        """(model.load_checkpoint, teacher.checkpoint) as written: tinker paths or warmup references."""
        model = self.settings.model
        return (model.load_checkpoint if model else None, self.teacher.checkpoint)

    @property
    def warmup_mid_step(self) -> int | None:
        """The intermediate warmup step a checkpoint field names ("warmup:N"), if any."""
        for value in self.checkpoint_refs:
            step = warmup_ref_step(value)
            if step not in (None, False):
                return step
        return None

    def data_path(self, value: str) -> Path:
        return resolve_data_path(value, self.base_dir)

    def with_backend(self, backend: str) -> Recipe:
        return replace(self, settings=self.settings.model_copy(update={"backend": backend}))


def recipe_from_text(
    text: str,
    source: str = "<recipe>",
    *,
    deep: bool = False,
    backend: str | None = None,
    environ: dict[str, str] | None = None,
    base_dir: Path | None = None,
) -> Recipe:
    """Validate (`check_text`'s checks, with `deep` `check_deep`'s) and resolve into a Recipe;
    raises RecipeError when any error is found.

    `backend` overrides the recipe's own (the CLI's --backend) before the backend checks run;
    `base_dir` is where relative data paths resolve (default: the recipe file's folder).
    """
    if backend is not None:
        text = _override_backend(text, backend)
    base = base_dir if base_dir is not None else base_dir_for(source)
    data = parse_toml(text, source)
    if isinstance(data, RecipeIssue):
        raise RecipeError([data])
    issues = check_parsed(data, text, source, deep=deep, environ=environ, base_dir=base)
    if any(i.is_error for i in issues):
        raise RecipeError(issues)
    settings, entry_model = resolve(data, in_process=deep or may_import_here())
    path = Path(source) if not source.startswith("<") else None
    return Recipe(
        name=settings.name or (path.stem if path else "recipe"),
        path=path,
        text=text,
        settings=settings,
        base_dir=base,
        warnings=issues,
        entry_model=entry_model,
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
