"""Training runs and checkpoints on disk, so a new engine process finds what an earlier one wrote.

Layout under the data dir:

    runs/<run dir>/run.json                      the run's metadata (base model, LoRA config, ...)
    runs/<run dir>/weights/<name>/               a training checkpoint (save_state)
    runs/<run dir>/sampler_weights/<name>/       a sampler checkpoint (save_weights_for_sampler)

`<run dir>` is the model id made filesystem-safe plus a short hash of the exact id, so two ids
that sanitise alike never share a folder and the folder is found again from the id alone. A
checkpoint folder holds `adapter.safetensors` (the trainable tensors), `checkpoint.json` (what
it was trained from) and, for training checkpoints, `optimizer.pt`. Folders are written under a
temporary name and renamed into place, so a reader never sees half a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cookbook_tui.runners.rundir import write_atomic

from .errors import EngineError

TINKER_SCHEME = "tinker://"
KIND_FOLDERS = {"weights": "training", "sampler_weights": "sampler"}
RUN_FILE = "run.json"
CHECKPOINT_FILE = "checkpoint.json"
ADAPTER_FILE = "adapter.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# What an interrupted write_checkpoint/delete_checkpoint leaves: `.<name>.<tmp|old|deleted>-<pid>...`
_LEFTOVER_RE = re.compile(r"^\.(?P<name>.+)\.(?P<what>tmp|old|deleted)-(?P<pid>\d+)(?:-.*)?$")


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def run_dir_name(model_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", model_id).strip("._") or "run"
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:8]
    return f"{cleaned[:80]}-{digest}"


def tinker_path(model_id: str, kind: str, name: str) -> str:
    return f"{TINKER_SCHEME}{model_id}/{kind}/{name}"


def parse_tinker_path(path: str) -> tuple[str, str, str]:
    """`tinker://<model_id>/<weights|sampler_weights>/<name>` -> (model_id, kind, name)."""
    if not isinstance(path, str) or not path.startswith(TINKER_SCHEME):
        raise EngineError(f"not a tinker path: {path!r} (expected tinker://<model_id>/weights/<name>)")
    parts = path[len(TINKER_SCHEME) :].split("/")
    if len(parts) != 3 or parts[1] not in KIND_FOLDERS or not parts[0] or not parts[2]:
        raise EngineError(
            f"not a tinker checkpoint path: {path!r} "
            "(expected tinker://<model_id>/weights/<name> or .../sampler_weights/<name>)"
        )
    return parts[0], parts[1], parts[2]


def check_checkpoint_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in {".", ".."}:
        raise EngineError(
            f"checkpoint name {name!r} must be letters, digits, '.', '_' or '-' (no '/')"
        )
    return name


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _umask_mode(mode: int) -> int:
    """`mode` less the process umask (read from /proc: setting it to read it would race threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return mode & ~int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    return mode & ~0o022


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class CheckpointStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.runs_dir = self.data_dir / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._recover_interrupted_writes()

    def _recover_interrupted_writes(self) -> None:
        """Undo what a writer killed mid-save left behind (folders named `.<name>.<what>-<pid>`):
        an old checkpoint moved aside for an overwrite whose new copy never landed goes back
        under its name, so a name once saved stays listed; half-written and leftover folders go.
        Folders of live processes are theirs and left alone."""
        for kind in KIND_FOLDERS:
            for folder in self.runs_dir.glob(f"*/{kind}/.*"):
                match = _LEFTOVER_RE.match(folder.name)
                if match is None or pid_alive(int(match["pid"])):
                    continue
                final = folder.parent / match["name"]
                if match["what"] == "old" and not final.exists():
                    os.rename(folder, final)
                else:
                    shutil.rmtree(folder, ignore_errors=True)

    # -- runs ---------------------------------------------------------------------------------
    def run_dir(self, model_id: str) -> Path:
        return self.runs_dir / run_dir_name(model_id)

    def write_run(self, model_id: str, record: dict[str, Any]) -> None:
        write_json_atomic(self.run_dir(model_id) / RUN_FILE, record)

    def read_run(self, model_id: str) -> dict[str, Any] | None:
        path = self.run_dir(model_id) / RUN_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def all_runs(self) -> list[dict[str, Any]]:
        records = []
        for path in sorted(self.runs_dir.glob(f"*/{RUN_FILE}")):
            try:
                records.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue  # a run whose metadata is unreadable is skipped, not fatal
        return records

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint_dir(self, path: str) -> Path:
        model_id, kind, name = parse_tinker_path(path)
        return self.run_dir(model_id) / kind / check_checkpoint_name(name)

    def existing_checkpoint_dir(self, path: str) -> Path:
        folder = self.checkpoint_dir(path)
        if not (folder / CHECKPOINT_FILE).exists():
            raise EngineError(f"checkpoint not found: {path}", category="not_found")
        return folder

    def write_checkpoint(
        self, path: str, meta: dict[str, Any], write_files: Callable[[Path], None]
    ) -> Path:
        """Write a checkpoint folder atomically: `write_files(tmp_dir)` fills it, then rename."""
        final = self.checkpoint_dir(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-", dir=final.parent))
        tmp.chmod(_umask_mode(0o777))  # mkdtemp's folders are 0700; the user's umask decides
        moved_aside: Path | None = None
        try:
            write_files(tmp)
            write_json_atomic(tmp / CHECKPOINT_FILE, meta)
            if final.exists():
                # Overwriting a name: move the old one aside first so the swap is two renames.
                # A kill between them is undone by the next store (_recover_interrupted_writes).
                moved_aside = final.parent / f".{final.name}.old-{os.getpid()}"
                os.rename(final, moved_aside)
            os.rename(tmp, final)
        except BaseException:
            if moved_aside is not None and not final.exists():
                os.rename(moved_aside, final)  # the new copy did not land: keep the old one
                moved_aside = None
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if moved_aside is not None:
            shutil.rmtree(moved_aside, ignore_errors=True)
        return final

    def read_checkpoint_meta(self, path: str) -> dict[str, Any]:
        folder = self.existing_checkpoint_dir(path)
        return json.loads((folder / CHECKPOINT_FILE).read_text())

    def list_checkpoints(self, model_id: str) -> list[tuple[str, str, Path, dict[str, Any]]]:
        """(kind, name, folder, meta) for each checkpoint of the run, oldest first."""
        found = []
        run_dir = self.run_dir(model_id)
        for kind in KIND_FOLDERS:
            for meta_path in (run_dir / kind).glob(f"*/{CHECKPOINT_FILE}"):
                folder = meta_path.parent
                if folder.name.startswith("."):
                    continue
                try:
                    meta = json.loads(meta_path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                found.append((kind, folder.name, folder, meta))
        found.sort(key=lambda item: (item[3].get("created_at", ""), item[1]))
        return found

    def delete_checkpoint(self, path: str) -> None:
        folder = self.existing_checkpoint_dir(path)
        trash = folder.parent / f".{folder.name}.deleted-{os.getpid()}"
        os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
