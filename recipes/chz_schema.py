"""The fields of a tinker-cookbook chz config class, read from the installed code, as plain data.

`[cookbook]` tables (the Config a workflow builds) and `workflow = "cookbook"` recipes' `[config]`
tables (an entry module's `CLIConfig`) are checked against the class itself, never a copied list:
`describe(target)` imports it and walks `chz.chz_fields` (nested chz configs recursively) into a
`ConfigSchema` — each field's type, accepted TOML kinds, Literal/Enum choices, default and doc.

Importing a cookbook module pulls in tinker and torch (2-4 s), which the TUI must not do in its
own process. So `schema_for(target)` answers from memory, then from a disk cache (kept while the
module files it was read from are unchanged), and only then reads the class: in this process when
asked to (`in_process=True`: the CLI's deep validation and the runner, which import the cookbook
anyway) or else in a short-lived `python -m cookbook_tui.recipes.chz_schema TARGET` subprocess.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SUBPROCESS_TIMEOUT_S = 90.0
# A class path as chz casts it from a string ("package.module:Name").
ENTRY_POINT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class SchemaUnavailable(Exception):
    """The class cannot be read: its module does not import, it has no such attribute, or it is
    not a chz class. The message names the module and says why, in one line."""


@dataclass(frozen=True)
class ConfigField:
    """One field. `kinds` are what a TOML value may be: bool, int, float, str, array, table,
    literal (one of `choices`), chz (a nested config: a sub-table of `nested`'s fields, or a
    "module:Name" string), object (a Python object: only a "module:Name" string), any, none."""

    name: str
    type: str
    kinds: tuple[str, ...]
    default: str | None  # repr of the default; None when the field is required
    required: bool
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    nested: ConfigSchema | None = None

    def describe(self) -> str:
        """One line for an editor or a help page: type, default, doc."""
        default = "required" if self.required else f"default {self.default}"
        doc = f" — {self.doc}" if self.doc else ""
        return f"{self.name}: {self.type} ({default}){doc}"


@dataclass(frozen=True)
class ConfigSchema:
    target: str
    fields: dict[str, ConfigField]
    doc: str = ""
    files: dict[str, int] = dataclasses.field(default_factory=dict)  # module file -> mtime_ns

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "doc": self.doc,
            "files": self.files,
            "fields": {name: _field_json(f) for name, f in self.fields.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigSchema:
        return cls(
            target=data["target"],
            doc=data.get("doc", ""),
            files=dict(data.get("files", {})),
            fields={name: _field_from_json(f) for name, f in data["fields"].items()},
        )


def _field_json(f: ConfigField) -> dict[str, Any]:
    out = dataclasses.asdict(f)
    out["nested"] = f.nested.to_json() if f.nested else None
    return out


def _field_from_json(data: dict[str, Any]) -> ConfigField:
    nested = data.get("nested")
    choices = data.get("choices")
    return ConfigField(
        name=data["name"],
        type=data["type"],
        kinds=tuple(data["kinds"]),
        default=data.get("default"),
        required=bool(data.get("required")),
        doc=data.get("doc", ""),
        choices=tuple(choices) if choices is not None else None,
        nested=ConfigSchema.from_json(nested) if nested else None,
    )


# --- reading a class (imports it) -------------------------------------------------------------


def load_target(target: str) -> Any:
    """Import "module:Name" (dotted attributes allowed); SchemaUnavailable naming what failed."""
    module_name, _, attr = target.partition(":")
    try:
        import importlib

        obj: Any = importlib.import_module(module_name)
    except BaseException as exc:  # a user's module may fail in any way, even sys.exit
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SchemaUnavailable(f"cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SchemaUnavailable(f"{module_name} has no {attr!r} (a chz config class)")
        obj = getattr(obj, part)
    return obj


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _kinds(annotation: Any) -> tuple[tuple[str, ...], tuple[Any, ...] | None, Any]:
    """(kinds, choices, nested chz class) a TOML value for `annotation` may take."""
    import chz

    kinds: list[str] = []
    choices: list[Any] = []
    nested = None
    origin = typing.get_origin(annotation)
    members = typing.get_args(annotation) if origin in (typing.Union, types.UnionType) else (annotation,)
    for member in members:
        m_origin = typing.get_origin(member) or member
        if member is type(None) or member is None:
            kinds.append("none")
        elif member is typing.Any or member is object:
            kinds.append("any")
        elif m_origin is typing.Literal:
            kinds.append("literal")
            choices.extend(_json_value(v) for v in typing.get_args(member))
        elif m_origin is bool:
            kinds.append("bool")
        elif m_origin is int:
            kinds.append("int")
        elif m_origin is float:
            kinds.append("float")
        elif m_origin is str:
            kinds.append("str")
        elif isinstance(m_origin, type) and issubclass(m_origin, enum.Enum):
            kinds.append("literal")
            choices.extend(_json_value(v) for v in m_origin)
        elif m_origin in (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable):
            kinds.append("array")
        elif m_origin in (dict, collections.abc.Mapping) or (
            isinstance(m_origin, type) and typing.is_typeddict(m_origin)
        ):
            kinds.append("table")
        elif isinstance(m_origin, type) and chz.is_chz(m_origin):
            kinds.append("chz")
            nested = nested or m_origin
        else:
            kinds.append("object")
    return tuple(dict.fromkeys(kinds)), (tuple(choices) if choices else None), nested


_COMMENT_RE = re.compile(r"^\s*#\s?(.*)$")


def _source_docs(cls: type) -> dict[str, str]:
    """Field docs from the class's source: the comment lines just above a field, or its trailing
    comment (the cookbook documents its config fields that way, not with chz's `doc=`)."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    docs: dict[str, str] = {}
    pending: list[str] = []
    field_re = re.compile(r"^\s+([A-Za-z_]\w*)\s*:\s*[^=#]+?(?:=.*?)?(?:#\s?(.*))?$")
    for line in lines[1:]:
        comment = _COMMENT_RE.match(line)
        if comment:
            text = comment.group(1).strip()
            if set(text) <= set("-=# "):  # a ruler around a group heading: the group ends here
                pending = []
            else:
                pending.append(text)
            continue
        if not line.strip():
            pending = []
            continue
        match = field_re.match(line)
        if match and not line.lstrip().startswith(("def ", "@", "class ")):
            text = " ".join(p for p in pending if p) or (match.group(2) or "").strip()
            if text:
                docs.setdefault(match.group(1), text)
        pending = []
    return docs


def _module_file(cls: type) -> str | None:
    module = sys.modules.get(getattr(cls, "__module__", ""))
    path = getattr(module, "__file__", None)
    return str(Path(path).resolve()) if path else None


def _describe_class(cls: type, target: str, files: dict[str, int], depth: int = 0) -> ConfigSchema:
    import chz
    from chz.field import MISSING
    from chz.tiepin import type_repr

    if not chz.is_chz(cls):
        raise SchemaUnavailable(f"{target} is not a chz config class")
    path = _module_file(cls)
    if path and os.path.exists(path):
        files[path] = os.stat(path).st_mtime_ns
    docs = _source_docs(cls)
    fields: dict[str, ConfigField] = {}
    for f in chz.chz_fields(cls).values():
        try:
            annotation = f.final_type
        except Exception:  # an annotation that does not evaluate: accept any value
            annotation = typing.Any
        kinds, choices, nested_cls = _kinds(annotation)
        if f._default is not MISSING:
            default, required = repr(_json_value(f._default)), False
        elif callable(factory := f._default_factory):  # not MISSING
            try:
                default = repr(factory())
            except Exception:
                default = "(computed)"
            required = False
        else:
            default, required = None, True
        nested = None
        if nested_cls is not None and depth < 4:
            nested_target = f"{nested_cls.__module__}:{nested_cls.__qualname__}"
            nested = _describe_class(nested_cls, nested_target, files, depth + 1)
        fields[f.logical_name] = ConfigField(
            name=f.logical_name,
            type=type_repr(annotation),
            kinds=kinds,
            default=default,
            required=required,
            doc=f._doc or docs.get(f.logical_name, ""),
            choices=choices,
            nested=nested,
        )
    doc = inspect.cleandoc(cls.__doc__) if cls.__doc__ else ""
    return ConfigSchema(target=target, fields=fields, doc=doc.split("\n\n")[0], files=files)


def describe(target: str) -> ConfigSchema:
    """Import `target` ("module:Name") in this process and describe its chz fields."""
    cls = load_target(target)
    return _describe_class(cls, target, {})


# --- answering without importing: memory, disk, subprocess ------------------------------------

_MEMORY: dict[str, ConfigSchema] = {}


def _cache_dir() -> Path:
    explicit = os.environ.get("COOKBOOK_TUI_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser() / "chz-schemas"
    import platformdirs

    return Path(platformdirs.user_cache_dir("cookbook-tui")) / "chz-schemas"


def _cache_key(target: str) -> str:
    # The same target can mean another module under another PYTHONPATH or interpreter.
    seed = json.dumps([SCHEMA_VERSION, target, sys.executable, os.environ.get("PYTHONPATH", ""), os.getcwd()])
    return hashlib.sha1(seed.encode()).hexdigest()


def _fresh(schema: ConfigSchema) -> bool:
    for path, mtime in schema.files.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return False
        except OSError:
            return False
    return bool(schema.files)


def _from_disk(target: str) -> ConfigSchema | None:
    path = _cache_dir() / f"{_cache_key(target)}.json"
    try:
        schema = ConfigSchema.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return schema if schema.target == target and _fresh(schema) else None


def _to_disk(schema: ConfigSchema) -> None:
    from cookbook_tui.common.files import write_atomic  # stdlib only

    try:
        write_atomic(_cache_dir() / f"{_cache_key(schema.target)}.json", json.dumps(schema.to_json()))
    except OSError:
        pass  # a cache that cannot be written only costs time


def _in_subprocess(target: str) -> ConfigSchema:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cookbook_tui.recipes.chz_schema", target],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            env=dict(os.environ, PYTHONWARNINGS="ignore"),
        )
    except subprocess.TimeoutExpired:
        raise SchemaUnavailable(f"reading {target} took over {SUBPROCESS_TIMEOUT_S:g} s") from None
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SchemaUnavailable(f"cannot read {target}: {tail}") from None
    if "error" in answer:
        raise SchemaUnavailable(answer["error"])
    return ConfigSchema.from_json(answer)


def may_import_here() -> bool:
    """Whether this process may import cookbook modules itself: anything but the TUI (the one
    process with textual loaded: the core never imports it), or once the cookbook is in anyway."""
    return "textual" not in sys.modules or "tinker_cookbook" in sys.modules


def schema_for(target: str, *, in_process: bool = False) -> ConfigSchema:
    """The schema of `target`, cached; raises SchemaUnavailable with a one-line reason."""
    cached = _MEMORY.get(target)
    if cached is not None and _fresh(cached):
        return cached
    schema = _from_disk(target)
    if schema is None:
        schema = describe(target) if in_process else _in_subprocess(target)
        _to_disk(schema)
    _MEMORY[target] = schema
    return schema


def main(argv: list[str]) -> int:
    """`python -m cookbook_tui.recipes.chz_schema TARGET`: the schema as one JSON line."""
    import warnings

    warnings.simplefilter("ignore")
    try:
        print(json.dumps(describe(argv[0]).to_json()))
    except SchemaUnavailable as exc:
        print(json.dumps({"error": str(exc)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
