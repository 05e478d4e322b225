"""What each curated workflow needs beyond its keys' types: one source of data or environment,
local files that exist with the rows the workflow reads (their first lines), entry points shaped
`module:Name`, and checkpoint fields that name the [warmup] stage consistently.

A value that failed its type check is skipped here (the structure check reported it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cookbook_tui.recipes.checker import Checker, did_you_mean, show
from cookbook_tui.recipes.chz_schema import ENTRY_POINT_RE
from cookbook_tui.recipes.paths import resolve_data_path
from cookbook_tui.recipes.schema import BUNDLED_ENVS, DATASET_WORKFLOWS, ENV_WORKFLOWS, HUB_DATASETS, warmup_ref_step
from cookbook_tui.recipes.structure import RecipeView

DATASET_SOURCES = ("path", "hub", "builder")
ENV_SOURCES = ("name", "builder")
# The rows each workflow reads from a local file.
_ROWS = {"sl": "messages", "dpo": "comparison", "distill": "prompt"}


def single_source(values: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The one key of `keys` given a value, or None (none, or more than one)."""
    given = [k for k in keys if values.get(k)]
    return given[0] if len(given) == 1 else None


def _check_exactly_one(chk: Checker, section: str, keys: tuple[str, ...], values: dict[str, Any]) -> str | None:
    given = [k for k in keys if values.get(k)]
    options = " or ".join(f"{section}.{k}" for k in keys)
    if not given:
        chk.add(section, f"needs {options}")
    elif len(given) > 1:
        chk.add(f"{section}.{given[1]}", f"give only one of {options}")
    source = single_source(values, keys)
    return source if source is not None and isinstance(values[source], str) else None


def _row_problem(row: Any, want: str) -> str | None:
    if not isinstance(row, dict):
        return "each line must be a JSON object"
    if want == "messages" and not isinstance(row.get("messages"), list):
        return "each line needs a \"messages\" list (chat conversations)"
    if want == "comparison" and ("comparison" not in row or "label" not in row):
        return "each line needs \"comparison\" and \"label\" (tinker-cookbook LabeledComparison rows)"
    if want == "prompt" and not (isinstance(row.get("prompt"), str) or isinstance(row.get("messages"), list)):
        return "each line needs a \"prompt\" string or a \"messages\" list"
    return None


def _check_jsonl(chk: Checker, field: str, path: Path, want: str) -> None:
    """Read the first lines of a data file: JSON, with the keys the workflow needs."""
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if lineno > 3:
                    break
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    chk.add(field, f"{path}:{lineno}: not JSON ({exc.msg})", at_value=True)
                    return
                problem = _row_problem(row, want)
                if problem:
                    chk.add(field, f"{path}:{lineno}: {problem}", at_value=True)
                    return
    except (OSError, UnicodeDecodeError) as exc:
        chk.add(field, f"cannot read {path}: {exc}", at_value=True)


def _check_file(chk: Checker, field: str, value: str, base_dir: Path, want: str) -> None:
    path = resolve_data_path(value, base_dir)
    if not path.is_file():
        chk.add(field, f"file not found: {path}", at_value=True)
        return
    if path.suffix == ".jsonl":
        _check_jsonl(chk, field, path, want)
    elif path.suffix != ".parquet":
        chk.add(field, f"must be a .jsonl or .parquet file, got {path.name}", at_value=True)


def check_entry_point_shape(chk: Checker, field: str, value: str) -> bool:
    if not ENTRY_POINT_RE.match(value):
        chk.add(field, f"must be an entry point like \"package.module:ClassName\", got {show(value)}", at_value=True)
        return False
    return True


def check_workflow_needs(chk: Checker, view: RecipeView, base_dir: Path) -> None:
    workflow = view.workflow
    if workflow in DATASET_WORKFLOWS:
        _check_dataset(chk, workflow, view.section("dataset"), base_dir)
    if workflow in ENV_WORKFLOWS:
        _check_env(chk, workflow, view.section("env"))
    warmup_path = view.section("warmup").get("path")
    if "warmup" in view.given and isinstance(warmup_path, str) and warmup_path:
        _check_file(chk, "warmup.path", warmup_path, base_dir, "messages")
    _check_warmup_refs(chk, view)


def _check_dataset(chk: Checker, workflow: str, ds: dict[str, Any], base_dir: Path) -> None:
    source = _check_exactly_one(chk, "dataset", DATASET_SOURCES, ds)
    if source == "path":
        _check_file(chk, "dataset.path", ds["path"], base_dir, _ROWS[workflow])
    elif source == "hub":
        known = HUB_DATASETS[workflow]
        if workflow != "sl" and ds["hub"] not in known:
            lead = f"workflow {workflow} knows the hub datasets"
            _not_known(chk, "dataset.hub", ds["hub"], list(known), lead, "", "dataset.path or dataset.builder")
    elif source == "builder":
        check_entry_point_shape(chk, "dataset.builder", ds["builder"])


def _not_known(chk: Checker, field: str, value: str, known: list[str], lead: str, after: str, otherwise: str) -> None:
    """A name outside the ones a workflow knows, with the way out that needs no name."""
    message = f"{lead} {', '.join(known)}{after}, got {show(value)}{did_you_mean(value, known)}; or give {otherwise}"
    chk.add(field, message, at_value=True)


def _check_env(chk: Checker, workflow: str, env: dict[str, Any]) -> None:
    source = _check_exactly_one(chk, "env", ENV_SOURCES, env)
    if source == "name":
        bundled = BUNDLED_ENVS[workflow]
        if env["name"] not in bundled:
            lead, after = "must be one of", f" for workflow {workflow}"
            _not_known(chk, "env.name", env["name"], list(bundled), lead, after, "env.builder = \"module:Name\"")
    elif source == "builder":
        check_entry_point_shape(chk, "env.builder", env["builder"])


def checkpoint_fields(view: RecipeView) -> tuple[tuple[str, Any], tuple[str, Any]]:
    return (
        ("model.load_checkpoint", view.section("model").get("load_checkpoint")),
        ("teacher.checkpoint", view.section("teacher").get("checkpoint")),
    )


def _check_warmup_refs(chk: Checker, view: RecipeView) -> None:
    checkpoints = checkpoint_fields(view)
    refs = [(field, warmup_ref_step(value)) for field, value in checkpoints if warmup_ref_step(value) is not False]
    has_warmup = "warmup" in view.given
    if refs and not has_warmup:
        chk.add(refs[0][0], "names the warmup stage but the recipe has no [warmup] section", at_value=True)
    if has_warmup and not refs:
        chk.add(
            "warmup",
            "is never used: set model.load_checkpoint or teacher.checkpoint to \"warmup\"",
            severity="warning",
        )
    steps = view.section("warmup").get("steps")
    for field, step in refs:
        if step is not None and isinstance(steps, int) and not 0 < step < steps:
            chk.add(field, f"\"warmup:{step}\" must name a step between 1 and warmup.steps - 1 ({steps - 1})", at_value=True)
    if len({step for _, step in refs if step is not None}) > 1:
        chk.add(refs[-1][0], "at most one intermediate warmup step can be named", at_value=True)
    if view.workflow == "distill":
        teacher = view.section("teacher")
        student = view.section("model").get("name")
        if not teacher.get("checkpoint") and teacher.get("model") in (None, student):
            chk.add(
                "teacher",
                "the teacher is the student's own base model: set teacher.model or teacher.checkpoint",
            )
    for field, value in checkpoints:
        if isinstance(value, str) and value and warmup_ref_step(value) is False and not value.startswith("tinker://"):
            chk.add(field, f"must be a tinker:// path, \"warmup\" or \"warmup:N\", got {show(value)}", at_value=True)
