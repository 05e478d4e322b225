"""Recipe validation: the one place the CLI (`validate`, `--run`) and the TUI editor check recipes.

`validate_recipe_text` is cheap enough to run on every keystroke: TOML syntax, unknown keys (with a
did-you-mean), types, ranges, choices, what each workflow needs, local files and their first
lines, TINKER_API_KEY. `deep=True` adds what may take seconds: entry points are imported and hub
datasets/models are looked up (cache first, then the hub within 5 s).
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME, TINY_MODEL_RENDERER
from cookbook_tui.recipes.chz_schema import (
    ENTRY_POINT_RE,
    ConfigField,
    ConfigSchema,
    SchemaUnavailable,
    may_import_here,
    schema_for,
)
from cookbook_tui.recipes.hub import check_hub_repo
from cookbook_tui.recipes.issues import RecipeIssue
from cookbook_tui.recipes.locate import key_positions, value_column
from cookbook_tui.recipes.paths import base_dir_for, resolve_data_path
from cookbook_tui.recipes.schema import (
    BUNDLED_ENVS,
    COOKBOOK_CONFIGS,
    COOKBOOK_WORKFLOW,
    DATASET_WORKFLOWS,
    ENTRY_CONFIG_CLASS,
    ENV_WORKFLOWS,
    FREE_TABLES,
    HUB_DATASETS,
    RENDERERS,
    RUN_DIR_FIELD,
    RUNNER_FIELDS,
    SECTIONS,
    TOP_LEVEL,
    WORKFLOWS,
    KeySpec,
    warmup_ref_step,
)

_ENTRY_POINT_RE = ENTRY_POINT_RE
_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
MISSING_KEY_MESSAGE = (
    "backend \"tinker\" needs the TINKER_API_KEY environment variable to run "
    "(or use backend = \"local\" to train on this machine)"
)
_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "table": "a table",
}


# TOML's value types, in the order that tells them apart (a bool is an int to Python).
_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "table"), (list, "array"),
)


def _kind_of(value: Any) -> str:
    return next((kind for cls, kind in _TOML_TYPES if isinstance(value, cls)), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _not_one_of(value: str, choices: list[str] | tuple[str, ...]) -> str:
    """The message for a value outside a fixed set: our keys' Literal choices and chz Literal
    fields alike; a long set is counted rather than listed (F3 and completion show it)."""
    shown = ", ".join(choices) if len(choices) <= 10 else f"{len(choices)} values"
    return f"must be one of {shown}, got {_show(value)}{_did_you_mean(value, choices)}"


class _Checker:
    """Collects issues for one recipe text, locating each by its dotted key."""

    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.positions = key_positions(text)
        self.issues: list[RecipeIssue] = []

    def add(self, field: str, message: str, *, at_value: bool = False, severity: str = "error") -> None:
        line, column = self.positions.get(field, (None, None))
        if line is None and "." in field:  # a missing key: point at its section header
            line, column = self.positions.get(field.rsplit(".", 1)[0], (None, None))
        if at_value and line is not None:
            column = value_column(self.text, line) or column
        self.issues.append(RecipeIssue(self.source, line, column, field, message, severity))


def _check_value(chk: _Checker, field: str, spec: KeySpec, value: Any) -> bool:
    if isinstance(value, str) and value in spec.words:
        return True
    kind = _kind_of(value)
    accepted = {spec.kind} | ({"int"} if spec.kind == "float" else set())
    if kind not in accepted:
        words = "".join(f" or {_show(w)}" for w in spec.words)
        chk.add(field, f"must be {_KIND_NAMES[spec.kind]}{words}, got {_show(value)}", at_value=True)
        return False
    if spec.choices is not None and value not in spec.choices:
        chk.add(field, _not_one_of(value, spec.choices), at_value=True)
        return False
    if spec.minimum is not None:
        too_small = value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum
        if too_small:
            op = ">" if spec.exclusive_minimum else ">="
            chk.add(field, f"must be {op} {spec.minimum:g}, got {_show(value)}", at_value=True)
            return False
    if spec.maximum is not None and value > spec.maximum:
        chk.add(field, f"must be <= {spec.maximum:g}, got {_show(value)}", at_value=True)
        return False
    return True


def _check_structure(chk: _Checker, data: dict[str, Any]) -> dict[str, Any]:
    """Types, ranges and unknown keys; returns the recipe with defaults filled in."""
    known_top = list(TOP_LEVEL) + list(SECTIONS) + list(FREE_TABLES)
    workflow = data.get("workflow")
    resolved: dict[str, Any] = {}
    for key, value in data.items():
        if key in TOP_LEVEL:
            if _check_value(chk, key, TOP_LEVEL[key], value):
                resolved[key] = value
            continue
        if key in FREE_TABLES:
            applies_to = FREE_TABLES[key][1]
            if not isinstance(value, dict):
                chk.add(key, f"must be a table ([{key}]), got {_show(value)}", at_value=True)
            elif isinstance(workflow, str) and workflow in WORKFLOWS and workflow not in applies_to:
                other = "config" if key == "cookbook" else "cookbook"
                chk.add(key, f"[{key}] does not apply to workflow {workflow!r}: use [{other}]")
            else:
                resolved[key] = value
            continue
        if key not in SECTIONS:
            chk.add(key, f"unknown key{_did_you_mean(key, known_top)}")
            continue
        section = SECTIONS[key]
        if not isinstance(value, dict):
            chk.add(key, f"must be a table ([{key}]), got {_show(value)}", at_value=True)
            continue
        if workflow == COOKBOOK_WORKFLOW:
            chk.add(key, f"section [{key}] does not apply to workflow \"cookbook\": the entry module's fields go in [config]")
            continue
        if isinstance(workflow, str) and workflow not in section.workflows:
            chk.add(key, f"section [{key}] applies to workflow {', '.join(section.workflows)}, not {workflow!r}")
            continue
        for sub, sub_value in value.items():
            dotted = f"{key}.{sub}"
            if sub not in section.fields:
                chk.add(dotted, f"unknown key{_did_you_mean(sub, list(section.fields))}")
                continue
            _check_value(chk, dotted, section.fields[sub], sub_value)
    for key, spec in TOP_LEVEL.items():
        resolved.setdefault(key, data.get(key, spec.default))
        if spec.required and key not in data:
            chk.add(key, "required key is missing")
    for key in FREE_TABLES:
        resolved.setdefault(key, {})
    if workflow == COOKBOOK_WORKFLOW and "entry" not in data:
        chk.add("entry", "workflow \"cookbook\" needs entry = \"<module>\" (e.g. tinker_cookbook.recipes.math_rl.train)")
    elif "entry" in data and isinstance(workflow, str) and workflow != COOKBOOK_WORKFLOW:
        chk.add("entry", f"entry applies to workflow \"cookbook\" only, not {workflow!r}")
    for name, section in SECTIONS.items():
        given = data.get(name) if isinstance(data.get(name), dict) else None
        if isinstance(workflow, str) and workflow not in section.workflows:
            continue
        values = {k: v for k, v in (given or {}).items() if k in section.fields}
        for sub, spec in section.fields.items():
            if spec.required and sub not in values and (given is not None or name == "model"):
                chk.add(f"{name}.{sub}", "required key is missing")
            values.setdefault(sub, spec.default)
        resolved[name] = values
        resolved.setdefault("_present", set())
        if given is not None:
            resolved["_present"].add(name)
    return resolved


def _exactly_one(chk: _Checker, section: str, keys: tuple[str, ...], values: dict[str, Any]) -> str | None:
    given = [k for k in keys if values.get(k)]
    options = " or ".join(f"{section}.{k}" for k in keys)
    if not given:
        chk.add(section, f"needs {options}")
        return None
    if len(given) > 1:
        chk.add(f"{section}.{given[1]}", f"give only one of {options}")
        return None
    return given[0]


def _check_jsonl(chk: _Checker, field: str, path: Path, want: str) -> None:
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


def _check_file(chk: _Checker, field: str, value: str, base_dir: Path, want: str) -> None:
    path = resolve_data_path(value, base_dir)
    if not path.is_file():
        chk.add(field, f"file not found: {path}", at_value=True)
        return
    if path.suffix == ".jsonl":
        _check_jsonl(chk, field, path, want)
    elif path.suffix != ".parquet":
        chk.add(field, f"must be a .jsonl or .parquet file, got {path.name}", at_value=True)


def _check_entry_point(chk: _Checker, field: str, value: str, deep: bool) -> None:
    if not _ENTRY_POINT_RE.match(value):
        chk.add(field, f"must be an entry point like \"package.module:ClassName\", got {_show(value)}", at_value=True)
        return
    if not deep:
        return
    module_name, _, attr = value.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way; report, don't crash
        chk.add(field, f"cannot import {module_name}: {type(exc).__name__}: {exc}", at_value=True)
        return
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            chk.add(field, f"{module_name} has no attribute {attr!r}", at_value=True)
            return
        target = getattr(target, part)


def _check_workflow_needs(chk: _Checker, recipe: dict[str, Any], base_dir: Path, deep: bool) -> list[tuple[str, str, str]]:
    """What each workflow needs; returns the hub repos to look up as (field, repo, type)."""
    workflow = recipe.get("workflow")
    present = recipe.get("_present", set())
    hub: list[tuple[str, str, str]] = []
    if workflow in DATASET_WORKFLOWS:
        ds = recipe["dataset"]
        source = _exactly_one(chk, "dataset", ("path", "hub", "builder"), ds)
        want = {"sl": "messages", "dpo": "comparison", "distill": "prompt"}[workflow]
        if source == "path":
            _check_file(chk, "dataset.path", ds["path"], base_dir, want)
        elif source == "hub":
            known = HUB_DATASETS[workflow]
            if workflow != "sl" and ds["hub"] not in known:
                chk.add(
                    "dataset.hub",
                    f"workflow {workflow} knows the hub datasets {', '.join(known)}, got {_show(ds['hub'])}"
                    f"{_did_you_mean(ds['hub'], list(known))}; or give dataset.path or dataset.builder",
                    at_value=True,
                )
            else:
                hub.append(("dataset.hub", ds["hub"], "dataset"))
        elif source == "builder":
            _check_entry_point(chk, "dataset.builder", ds["builder"], deep)
    if workflow in ENV_WORKFLOWS:
        env = recipe["env"]
        source = _exactly_one(chk, "env", ("name", "builder"), env)
        if source == "name":
            bundled = BUNDLED_ENVS[workflow]
            if env["name"] not in bundled:
                chk.add(
                    "env.name",
                    f"must be one of {', '.join(bundled)} for workflow {workflow}, got {_show(env['name'])}"
                    f"{_did_you_mean(env['name'], list(bundled))}; or give env.builder = \"module:Name\"",
                    at_value=True,
                )
            elif hub_name := bundled[env["name"]]:
                hub.append(("env.name", hub_name, "dataset"))
        elif source == "builder":
            _check_entry_point(chk, "env.builder", env["builder"], deep)
    if "warmup" in present and recipe["warmup"].get("path"):
        _check_file(chk, "warmup.path", recipe["warmup"]["path"], base_dir, "messages")
    _check_warmup_refs(chk, recipe, present)
    return hub


def _check_warmup_refs(chk: _Checker, recipe: dict[str, Any], present: set[str]) -> None:
    checkpoints = (
        ("model.load_checkpoint", recipe.get("model", {}).get("load_checkpoint")),
        ("teacher.checkpoint", recipe.get("teacher", {}).get("checkpoint")),
    )
    refs = [(field, warmup_ref_step(value)) for field, value in checkpoints if warmup_ref_step(value) is not False]
    if refs and "warmup" not in present:
        chk.add(refs[0][0], "names the warmup stage but the recipe has no [warmup] section", at_value=True)
    if "warmup" in present and not refs:
        chk.add(
            "warmup",
            "is never used: set model.load_checkpoint or teacher.checkpoint to \"warmup\"",
            severity="warning",
        )
    steps = recipe.get("warmup", {}).get("steps")
    for field, step in refs:
        if step is not None and isinstance(steps, int) and not 0 < step < steps:
            chk.add(field, f"\"warmup:{step}\" must name a step between 1 and warmup.steps - 1 ({steps - 1})", at_value=True)
    if len({step for _, step in refs if step is not None}) > 1:
        chk.add(refs[-1][0], "at most one intermediate warmup step can be named", at_value=True)
    if recipe.get("workflow") == "distill":
        teacher = recipe.get("teacher", {})
        student = recipe.get("model", {}).get("name")
        if not teacher.get("checkpoint") and teacher.get("model") in (None, student):
            chk.add(
                "teacher",
                "the teacher is the student's own base model: set teacher.model or teacher.checkpoint",
            )
    for field, value in checkpoints:
        if value and warmup_ref_step(value) is False and not value.startswith("tinker://"):
            chk.add(field, f"must be a tinker:// path, \"warmup\" or \"warmup:N\", got {_show(value)}", at_value=True)

# --- [cookbook] and [config]: fields of a chz class read from the installed code ---------------


def _accepts(spec: ConfigField, value: Any) -> bool:
    kind = _kind_of(value)
    kinds = set(spec.kinds)
    if "any" in kinds:
        return True
    if kind == "int" and kinds & {"int", "float"}:
        return True
    if kind in ("bool", "float", "array") and kind in kinds:
        return True
    if kind == "table":
        return bool(kinds & {"table", "chz"})
    if kind == "str":
        if "str" in kinds or ("literal" in kinds and value in (spec.choices or ())):
            return True
        # chz casts "package.module:Name" to a class or object for object-typed fields.
        return bool(kinds & {"chz", "object"}) and bool(ENTRY_POINT_RE.match(value))
    return False


def _check_chz_value(chk: _Checker, dotted: str, spec: ConfigField, value: Any) -> None:
    if isinstance(value, dict) and spec.nested is not None:
        _check_chz_table(chk, dotted, value, spec.nested, {})
        return
    if _accepts(spec, value):
        return
    if isinstance(value, str) and "literal" in spec.kinds and spec.choices:
        chk.add(dotted, _not_one_of(value, [str(c) for c in spec.choices]), at_value=True)
        return
    chk.add(dotted, f"must be {spec.type}, got {_show(value)}", at_value=True)


def _check_chz_table(
    chk: _Checker, prefix: str, table: dict[str, Any], schema: ConfigSchema, refused: dict[str, str]
) -> None:
    for key, value in table.items():
        dotted = f"{prefix}.{key}"
        if key in refused:
            where = refused[key]
            hint = where if where.startswith("set by") else f"set it with {where} instead"
            chk.add(dotted, f"{schema.target.rpartition(':')[2]}.{key} is already set by this recipe: {hint}")
            continue
        spec = schema.fields.get(key)
        if spec is None:
            chk.add(dotted, f"{schema.target} has no field {key!r}{_did_you_mean(key, list(schema.fields))}")
            continue
        _check_chz_value(chk, dotted, spec, value)
    missing = [f.name for f in schema.fields.values() if f.required and f.name not in table]
    if missing and table and prefix.count("."):  # a nested sub-table must give its required fields
        chk.add(prefix, f"needs {', '.join(missing)} ({schema.target})")


def _schema(chk: _Checker, field: str, target: str, deep: bool) -> ConfigSchema | None:
    # The TUI's editor asks a subprocess once, then the disk cache; the CLI and the runner read
    # the class in their own process (they import the cookbook anyway).
    try:
        return schema_for(target, in_process=deep or may_import_here())
    except SchemaUnavailable as exc:
        chk.add(field, str(exc), at_value=True)
        return None


def _check_cookbook_tables(chk: _Checker, recipe: dict[str, Any], deep: bool) -> None:
    workflow = recipe.get("workflow")
    table = "config" if workflow == COOKBOOK_WORKFLOW else "cookbook"
    if recipe.get(table, {}).get("wandb_project") and not _tracker_installed():
        chk.add(
            f"{table}.wandb_project",
            "needs a tracker: pip install 'cookbook-tui[wandb]' (Weights & Biases) "
            "or 'cookbook-tui[trackio]' (Trackio, local)",
            at_value=True,
        )
    if workflow in COOKBOOK_CONFIGS and recipe.get("cookbook"):
        spec = COOKBOOK_CONFIGS[workflow]
        schema = _schema(chk, "cookbook", spec.target, deep)
        if schema is not None:
            _check_chz_table(chk, "cookbook", recipe["cookbook"], schema, spec.owned)
    if workflow != COOKBOOK_WORKFLOW or not isinstance(recipe.get("entry"), str):
        return
    entry = recipe["entry"]
    if not _MODULE_RE.match(entry):
        chk.add("entry", f"must be a module name like \"tinker_cookbook.recipes.math_rl.train\", got {_show(entry)}", at_value=True)
        return
    schema = _schema(chk, "entry", f"{entry}:{ENTRY_CONFIG_CLASS}", deep)
    if schema is None:
        return
    if RUN_DIR_FIELD not in schema.fields:
        chk.add("entry", f"{entry}.{ENTRY_CONFIG_CLASS} has no {RUN_DIR_FIELD} field: cookbook-tui cannot point it at the run dir", at_value=True)
    config = recipe.get("config", {})
    _check_chz_table(chk, "config", config, schema, RUNNER_FIELDS)
    missing = [f.name for f in schema.fields.values() if f.required and f.name not in config and f.name not in RUNNER_FIELDS]
    if missing:
        chk.add("config", f"{entry}.{ENTRY_CONFIG_CLASS} needs {', '.join(missing)} (no default)")
    model = schema.fields.get("model_name")
    if "model_name" in config:
        recipe["entry_model"] = config["model_name"]
    elif model is not None and model.default:
        recipe["entry_model"] = _unrepr(model.default)


def recommended_renderer(model: str) -> str | None:
    """tinker_cookbook.model_info's first choice for `model` (a cheap import: no torch), or None."""
    if model == TINY_MODEL_NAME:  # registered with model_info inside runner processes only
        return TINY_MODEL_RENDERER
    try:
        from tinker_cookbook import model_info

        return model_info.get_recommended_renderer_name(model)
    except Exception:  # unknown organisation or model, or a local folder: no recommendation
        return None


def _resolve_model_defaults(chk: _Checker, recipe: dict[str, Any], deep: bool) -> None:
    """model.renderer left out: the cookbook's recommendation; learning_rate = "auto": checked
    with get_lr when validating deeply (the runner resolves it)."""
    model = recipe.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        return
    if model.get("renderer") is None:
        renderer = recommended_renderer(model["name"])
        if renderer is None:
            chk.add(
                "model.renderer",
                f"tinker_cookbook.model_info has no renderer for {model['name']!r}: set model.renderer to one of "
                + ", ".join(RENDERERS),
            )
        else:
            model["renderer"] = renderer
    if deep and recipe.get("training", {}).get("learning_rate") == "auto" and model["name"] != TINY_MODEL_NAME:
        try:
            from tinker_cookbook.hyperparam_utils import get_lr

            get_lr(model["name"])
        except Exception as exc:
            chk.add(
                "training.learning_rate",
                f"\"auto\": tinker_cookbook.hyperparam_utils.get_lr has no value for {model['name']!r} "
                f"({type(exc).__name__}: {_first_line(exc)}); give a number",
                at_value=True,
                # The service may still know it; this machine may only lack the hub.
                severity="warning" if recipe.get("backend") == "tinker" else "error",
            )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _tracker_installed() -> bool:
    """tinker-cookbook's ml_log sends `wandb_project` to W&B and to Trackio, whichever is
    installed, and silently to neither otherwise."""
    import importlib.util

    return any(importlib.util.find_spec(name) is not None for name in ("wandb", "trackio"))


def _unrepr(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text



def _local_model_problem(name: str) -> tuple[bool, str | None]:
    """(needs a hub lookup, problem) for a model the local engine must load."""
    if name == TINY_MODEL_NAME:
        return False, None
    if Path(name).expanduser().is_dir():
        return False, None
    if name.startswith(("/", "./", "../", "~")):
        return False, f"model folder not found: {name}"
    return True, None


def _check_backend(chk: _Checker, recipe: dict[str, Any], hub: list[tuple[str, str, str]], env: dict[str, str]) -> None:
    backend = recipe.get("backend")
    if backend == "tinker" and not env.get("TINKER_API_KEY"):
        # The recipe is fine; the environment is not ready to run it (`--run` refuses).
        chk.add("backend", MISSING_KEY_MESSAGE, severity="warning")
    if backend == "local":
        if recipe.get("workflow") == COOKBOOK_WORKFLOW:
            field = "config.model_name" if "model_name" in recipe.get("config", {}) else "entry"
            models = [(field, recipe.get("entry_model"))]
        else:
            models = [("model.name", recipe.get("model", {}).get("name"))]
        teacher = recipe.get("teacher", {}) if recipe.get("workflow") == "distill" else {}
        models.append(("teacher.model", teacher.get("model")))
        for field, name in models:
            if not isinstance(name, str) or not name:
                continue
            needs_hub, problem = _local_model_problem(name)
            if problem:
                chk.add(field, problem, at_value=True)
            elif needs_hub:
                hub.append((field, name, "model"))


def _check_hub(chk: _Checker, recipe: dict[str, Any], hub: list[tuple[str, str, str]]) -> None:
    """Hub lookups, concurrently, each within the deadline. A tinker-backend recipe only needs
    hub data at run time on this machine too, but the service holds the model: models are only
    looked up for the local backend, and unreachable data is an error for local runs and a
    warning when validating a tinker recipe offline."""
    from concurrent.futures import ThreadPoolExecutor

    if not hub:
        return
    with ThreadPoolExecutor(max_workers=len(hub)) as pool:
        answers = list(pool.map(lambda item: check_hub_repo(item[1], item[2]), hub))
    for (field, repo, repo_type), answer in zip(hub, answers):
        if answer.ok:
            continue
        unreachable = "no such" not in answer.reason
        severity = "warning" if recipe.get("backend") == "tinker" and unreachable else "error"
        chk.add(field, f"{repo_type} {repo!r}: {answer.reason}", at_value=True, severity=severity)


def _unclosed_quote(line_text: str) -> tuple[int, str] | None:
    """(0-based column, quote) of a string opened on this line and not closed on it, if any."""
    at, open_quote = 0, None
    start = 0
    while at < len(line_text):
        char = line_text[at]
        if open_quote is None:
            if char == "#":
                return None
            if char in "\"'":
                open_quote, start = char, at
        elif char == "\\" and open_quote == '"':
            at += 1  # an escaped character, the quote included
        elif char == open_quote:
            open_quote = None
        at += 1
    return (start, open_quote) if open_quote else None


def _syntax_issue(exc: tomllib.TOMLDecodeError, source: str, text: str = "") -> RecipeIssue:
    message = str(exc)
    match = _TOML_POS_RE.search(message)
    line = column = None
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        message = message[: match.start()]
    message = message[:1].lower() + message[1:]
    lines = text.splitlines()
    unclosed = None
    if line and line <= len(lines) and message.startswith(("illegal character '\\n'", "illegal character '\\r'")):
        # tomllib's words for a string that reaches the end of its line
        unclosed = line, _unclosed_quote(lines[line - 1])
    elif line is None and message.startswith(('expected "\'"', "unterminated string")):
        # a string still open at the end of the file: the first line that leaves one open
        unclosed = next(((n, q) for n, q in ((n, _unclosed_quote(t)) for n, t in enumerate(lines, 1)) if q), None)
    if unclosed and unclosed[1]:
        line, (start, quote) = unclosed[0], unclosed[1]
        return RecipeIssue(
            source, line, start + 1, "syntax",
            f"invalid TOML: unterminated string (the {quote} here is not closed on this line)",
        )
    return RecipeIssue(source, line, column, "syntax", f"invalid TOML: {message}")


def check_recipe_text(
    text: str,
    source: str = "<recipe>",
    *,
    deep: bool = False,
    base_dir: Path | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[list[RecipeIssue], dict[str, Any] | None]:
    """Validate and resolve: the issues, and the recipe with defaults filled in (None if the TOML
    does not parse)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [_syntax_issue(exc, source, text)], None
    chk = _Checker(text, source)
    recipe = _check_structure(chk, data)
    base = base_dir if base_dir is not None else base_dir_for(source)
    hub = _check_workflow_needs(chk, recipe, base, deep)
    _check_cookbook_tables(chk, recipe, deep)
    _resolve_model_defaults(chk, recipe, deep)
    _check_backend(chk, recipe, hub, dict(os.environ) if environ is None else environ)
    if deep:
        _check_hub(chk, recipe, hub)
    recipe.pop("_present", None)
    issues = sorted(chk.issues, key=lambda i: (i.line is None, i.line or 0, i.column or 0))
    return issues, recipe


def validate_recipe_text(text: str, source: str = "<recipe>", **options: Any) -> list[RecipeIssue]:
    """Every problem in a recipe's text (errors and warnings), each naming its place and field."""
    return check_recipe_text(text, source, **options)[0]

