"""The run directory: the files a run writes and the TUI reads (formats in ARCHITECTURE.md).

Both sides import this module, so it stays light: stdlib (and orjson) only, no textual, no torch. Writers
replace whole files atomically (status.json, a deduplicated metrics.jsonl) or append whole lines
(samples.jsonl); readers tolerate a half-written last line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_type_hints

from cookbook_tui.common.files import write_atomic
from cookbook_tui.common.procs import pid_alive

_loads: Callable[[str | bytes], Any]
try:  # a run screen opening 100k metric rows spends most of its time parsing them
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
SAMPLES_FILE = "samples.jsonl"
RECIPE_FILE = "recipe.toml"
CONFIG_FILE = "config.json"
LOG_FILE = "logs.log"

STATES = ("running", "finished", "failed", "cancelled")
ACTIVE_STATES = ("running",)
EXITED_WITHOUT_STATUS = "process exited without a final status"
# A folder holding any of these is a run dir (ours, or one tinker-cookbook wrote alone).
RUN_DIR_MARKERS = (STATUS_FILE, METRICS_FILE, CHECKPOINTS_FILE, CONFIG_FILE)


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 time from a run file (status.json's, the cookbook's), as aware UTC; None when
    absent or unreadable. A naive time is taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def steps_done(last_step: object) -> int | None:
    """How many steps are done once the metrics row numbered `last_step` is written: rows count
    from 0, while status.json's `step` and every "steps" shown count steps done. None when there
    is no step (no row yet, or a row without an int step)."""
    return last_step + 1 if type(last_step) is int else None


_UNSAFE_IN_FOLDER_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def run_folder_name(recipe_path: Path | str | None, recipe_name: str) -> str:
    """The one rule for runs/<this>/<timestamp>, headless and in the app: the recipe file's name
    (what the user saved it as and passes to --run; two copies of a recipe keep their runs apart),
    else the recipe's `name`, made safe for a folder name."""
    stem = Path(recipe_path).stem if recipe_path else recipe_name
    return _UNSAFE_IN_FOLDER_NAME.sub("-", stem).strip("-.") or "run"


def new_run_dir(runs_dir: Path | str, folder_name: str, now: datetime | None = None) -> Path:
    """A fresh run dir runs_dir/<folder_name>/<UTC timestamp>, created here: mkdir is the atomic
    claim, so two runs started in the same second (two processes or the app twice) get two
    folders. `folder_name` is sanitised again, so any caller gets a safe single path component."""
    stem = _UNSAFE_IN_FOLDER_NAME.sub("-", folder_name).strip("-.") or "run"
    base = Path(runs_dir) / stem / (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append whole lines in one write, so a reader never sees half a row from us.

    A kill mid-append can leave a torn last line; the first row appended after it would join the
    fragment on one line and be lost, so such a fragment is ended with a newline first."""
    data = "".join(json.dumps(row, default=str) + "\n" for row in rows)
    if not data:
        return
    with open(path, "a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                data = "\n" + data
        handle.write(data.encode("utf-8"))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Replace a JSONL file atomically with exactly these rows."""
    write_atomic(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All complete JSON rows; a torn last line (a writer mid-append, a kill -9) is skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file (status.json, config.json); None when absent, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tail_rows(path: Path, window: int) -> list[dict[str, Any]]:
    """The complete JSONL rows in the last `window` bytes of a file (a line cut by the window and
    undecodable lines are skipped), reading only its end."""
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - window))
            chunk = handle.read()
    except OSError:
        return []
    rows = []
    for line in chunk.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def last_jsonl_row(path: Path, window: int = 64 * 1024) -> dict[str, Any]:
    """The last complete row of a JSONL file, reading only its end."""
    rows = tail_rows(path, window)
    return rows[-1] if rows else {}


# ---------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class RunStatus:
    """status.json, typed: the one declaration of its fields. StatusWriter writes these and
    read_status reads them; `state` read back already accounts for a dead pid."""

    state: str = "unknown"  # one of STATES, or "unknown" (a run dir tinker-cookbook wrote alone)
    pid: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    recipe: str | None = None
    workflow: str | None = None
    backend: str | None = None
    model: str | None = None
    step: int | None = None  # steps done (see steps_done)
    total_steps: int | None = None
    log_dir: str | None = None
    recipe_dir: str | None = None  # where the recipe's relative paths resolve (for --resume)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat(timespec="seconds")
        return data

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunStatus:
        """The fields of a status.json object, each read by its declared type: a value of the
        wrong type (or an unreadable time) reads as absent, unknown keys are ignored."""
        values: dict[str, Any] = {}
        for name, kind in _status_field_kinds().items():
            value = raw.get(name)
            if kind is datetime:
                value = parse_time(value)
            elif type(value) is not kind or value == "":
                value = None
            if value is not None:
                values[name] = value
        return cls(**values)


@cache
def _status_field_kinds() -> dict[str, type]:
    """RunStatus's field -> its type without None (`int | None` -> int)."""
    hints = get_type_hints(RunStatus)
    kinds = {}
    for item in fields(RunStatus):
        hint = hints[item.name]
        kinds[item.name] = next((a for a in get_args(hint) if a is not type(None)), hint)
    return kinds


def write_status(run_dir: Path, status: RunStatus | dict[str, Any]) -> None:
    data = status.to_json() if isinstance(status, RunStatus) else status
    write_atomic(Path(run_dir) / STATUS_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_status(run_dir: Path, pid_alive: Callable[[int | None], bool] = pid_alive) -> RunStatus:
    """The run's status. The one rule: a `running` status whose process is gone reads as failed
    (`pid_alive` is replaceable for tests). A run dir without a readable status.json (one
    tinker-cookbook wrote alone) gets what its files say: see `inferred_status`."""
    raw = read_json(Path(run_dir) / STATUS_FILE)
    if raw is None:
        return inferred_status(Path(run_dir))
    status = RunStatus.from_json(raw)
    if status.state == "running" and not pid_alive(status.pid):
        # It ended when it last wrote (a killed run never writes ended_at): without that its
        # duration would keep growing on every screen.
        ended = status.ended_at or last_write_time(Path(run_dir))
        status = replace(status, state="failed", error=status.error or EXITED_WITHOUT_STATUS, ended_at=ended)
    return status


def last_write_time(run_dir: Path) -> datetime | None:
    """When the run last wrote its status, metrics or log (the newest mtime), if any exists."""
    times = []
    for name in (STATUS_FILE, METRICS_FILE, LOG_FILE):
        try:
            times.append((run_dir / name).stat().st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(max(times), UTC) if times else None


def inferred_status(run_dir: Path) -> RunStatus:
    """A run dir with no status.json: no pid, so no live state. Finished when checkpoints.jsonl
    has the final checkpoint, else unknown; steps from the tail of metrics.jsonl (read every poll:
    only the file's end, never the whole history); the model from the cookbook's config.json."""
    config = read_json(run_dir / CONFIG_FILE) or {}
    finished = any(row.get("final") or row.get("name") == "final" for row in read_checkpoints(run_dir))
    model = config.get("model_name")
    return RunStatus(
        state="finished" if finished else "unknown",
        model=model if isinstance(model, str) else None,
        recipe=run_dir.parent.name if run_dir.parent.name != "runs" else run_dir.name,
        step=steps_done(last_jsonl_row(run_dir / METRICS_FILE).get("step")),
    )


@dataclass
class StatusWriter:
    """Keeps a run's status.json current: one writer per run process. Fields are RunStatus's
    (an unknown one is a TypeError, not a key nobody reads)."""

    run_dir: Path
    status: RunStatus = RunStatus()

    def start(self, **fields: Any) -> None:
        self.status = RunStatus(
            state="running", pid=os.getpid(), started_at=utc_now(),
            log_dir=str(Path(self.run_dir).resolve()), **fields,
        )
        write_status(self.run_dir, self.status)

    def update(self, **fields: Any) -> None:
        self.status = replace(self.status, **fields)
        write_status(self.run_dir, self.status)

    def finish(self, state: str, error: str | None = None) -> None:
        assert state in STATES
        self.update(state=state, error=error, ended_at=utc_now())


# --------------------------------------------------------------------------------------- metrics


def dedupe_metrics_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per step, the last written winning (a resumed step is logged again), in step order.
    tinker-cookbook gives every row a step; a row without one is not a step's and is dropped."""
    by_step: dict[int, dict[str, Any]] = {}
    for row in rows:
        step = row.get("step")
        if isinstance(step, int):
            by_step[step] = row
    return [by_step[s] for s in sorted(by_step)]


def dedupe_metrics(run_dir: Path) -> int:
    """Rewrite metrics.jsonl atomically with every step exactly once; returns the row count."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return 0
    rows = dedupe_metrics_rows(read_jsonl(path))
    write_jsonl(path, rows)
    return len(rows)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    return dedupe_metrics_rows(read_jsonl(Path(run_dir) / METRICS_FILE))


class JsonlTail:
    """Reads rows appended to a JSONL file since the last poll (a follower, like `tail -f`).

    Keeps the byte offset of the last complete line, so a half-written line is read once whole.
    If the file shrinks or is replaced (metrics.jsonl is rewritten on dedupe), it starts over and
    `reset` is set so the reader can drop what it had.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._inode: int | None = None
        self.reset = False

    def poll(self) -> list[dict[str, Any]]:
        self.reset = False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if self._inode is not None and (stat.st_ino != self._inode or stat.st_size < self.offset):
            self.offset = 0
            self.reset = True
        self._inode = stat.st_ino
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        rows = []
        for line in data[: end + 1].splitlines():
            try:
                row = _loads(line)
            except (ValueError, UnicodeDecodeError):  # orjson's and json's decode errors
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


# ----------------------------------------------------------------------------- samples, others


def sample_row(
    step: int,
    kind: str,
    prompt: str,
    completion: str,
    reward: float | None = None,
    segments: list[tuple[str, float]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A samples.jsonl row: kind is "rollout" (RL) or "heldout" (a held-out prompt)."""
    row = {
        "step": step,
        "kind": kind,
        "prompt": prompt,
        "completion": completion,
        "reward": reward,
        "segments": [list(s) for s in segments] if segments is not None else None,
    }
    row.update(extra)
    return row


def append_samples(run_dir: Path, rows: Iterable[dict[str, Any]]) -> None:
    append_jsonl(Path(run_dir) / SAMPLES_FILE, rows)


def read_samples(run_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(Path(run_dir) / SAMPLES_FILE)


def read_checkpoints(run_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(Path(run_dir) / CHECKPOINTS_FILE)


def last_checkpoint(run_dir: Path, key: str = "state_path") -> dict[str, Any] | None:
    rows = [r for r in read_checkpoints(run_dir) if r.get(key)]
    return rows[-1] if rows else None


def checkpoint_step(row: dict[str, Any]) -> int | None:
    """The step a periodic checkpoint was taken at (tinker-cookbook names them by step)."""
    name = str(row.get("name", ""))
    return int(name) if name.isdigit() else None


def write_recipe_copy(run_dir: Path, text: str) -> None:
    write_atomic(Path(run_dir) / RECIPE_FILE, text)


def recipe_base_dir(run_dir: Path) -> Path | None:
    """Where the run's recipe resolved relative paths (status.json `recipe_dir`), if known."""
    folder = read_status(run_dir).recipe_dir
    return Path(folder) if folder else None


def is_run_dir(path: Path) -> bool:
    """A folder with any of RUN_DIR_MARKERS: the one test, for the TUI, `runs`, and --log-dir."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RUN_DIR_MARKERS)


def find_run_dirs(roots: Iterable[Path], max_depth: int = 4) -> list[Path]:
    """The run dirs at or under `roots`, sorted by path: runs/<recipe>/<time>/ sits two down, a
    cookbook log_path may sit deeper. A run's own folders (warmup/, iteration_*) are not runs, and
    hidden folders (.process-logs) are skipped."""
    found: set[Path] = set()
    for root in roots:
        root = Path(root)
        for folder, subdirs, _files in os.walk(root):
            path = Path(folder)
            if is_run_dir(path):
                found.add(path)
                subdirs[:] = []
            elif len(path.relative_to(root).parts) >= max_depth:
                subdirs[:] = []
            else:
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
    return sorted(found)
