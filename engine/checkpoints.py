"""Training runs and checkpoints on disk, so a new engine process finds what an earlier one wrote.

Layout under the data dir:

    runs/<run dir>/run.json                      the run's metadata (base model, LoRA config, ...)
    runs/<run dir>/weights/<name>/               a training checkpoint (save_state)
    runs/<run dir>/sampler_weights/<name>/       a sampler checkpoint (save_weights_for_sampler)
    runs/<run dir>/external_weights/<name>/      a PEFT adapter export (save_weights_external),
                                                 the files `tinker checkpoint download` fetches

`<run dir>` is the model id made filesystem-safe plus a short hash of the exact id, so two ids
that sanitise alike never share a folder and the folder is found again from the id alone. A
checkpoint folder holds `adapter.safetensors` (the trainable tensors), `checkpoint.json` (what
it was trained from) and, for training checkpoints, `optimizer.pt`. Folders are written under a
temporary name and renamed into place, so a reader never sees half a checkpoint.

`checkpoint.json` also carries what the REST API reports and changes: `expires_at` (ISO time or
absent; a checkpoint past it reads as gone and its folder is removed), `public`, `user_metadata`.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinker.types import ParsedCheckpointTinkerPath

from cookbook_tui.common.files import staging_dir, write_atomic
from cookbook_tui.common.procs import pid_alive

from .errors import EngineError

if TYPE_CHECKING:
    from tinker.types.checkpoint import CheckpointType

TINKER_SCHEME = "tinker://"
KIND_FOLDERS: dict[str, CheckpointType] = {
    "weights": "training", "sampler_weights": "sampler", "external_weights": "external"
}
# The service's range for checkpoint TTLs (tinker.types.SaveWeightsRequest.ttl_seconds).
MIN_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600
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


def parse_tinker_path(path: str) -> ParsedCheckpointTinkerPath:
    """`tinker://<run>/<weights|sampler_weights|external_weights>/<name>`, read by the SDK's own
    parser (`checkpoint_id` is `<kind folder>/<name>`); a path it refuses, or one with an empty
    run or name, is a user error that names the path."""
    expected = "expected tinker://<run>/weights/<name>, .../sampler_weights/<name> or .../external_weights/<name>"
    if not isinstance(path, str) or not path.startswith(TINKER_SCHEME):
        raise EngineError(f"not a tinker path: {path!r} ({expected})")
    try:
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(path)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.training_run_id or parsed.checkpoint_id.endswith("/"):
        raise EngineError(f"not a tinker checkpoint path: {path!r} ({expected})")
    return parsed


def checkpoint_location(path: str) -> tuple[str, str, str]:
    """A checkpoint path's (run id, kind folder, name): where it lives under the data dir."""
    parsed = parse_tinker_path(path)
    kind, name = parsed.checkpoint_id.split("/")
    return parsed.training_run_id, kind, name


def check_ttl(ttl_seconds: int | None) -> int | None:
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int):
        raise EngineError(f"ttl_seconds must be an integer number of seconds, got {ttl_seconds!r}")
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise EngineError(
            f"ttl_seconds must be between {MIN_TTL_SECONDS} (1 hour) and {MAX_TTL_SECONDS} (10 years), "
            f"got {ttl_seconds}"
        )
    return ttl_seconds


def expires_at(ttl_seconds: int | None, now: datetime | None = None) -> str | None:
    """The ISO expiry time `ttl_seconds` from now (None: never)."""
    if (ttl := check_ttl(ttl_seconds)) is None:
        return None
    return ((now or datetime.now(UTC)) + timedelta(seconds=ttl)).isoformat()


def is_expired(meta: dict[str, Any], now: datetime | None = None) -> bool:
    expiry = meta.get("expires_at")
    if not expiry:
        return False
    try:
        return datetime.fromisoformat(expiry) <= (now or datetime.now(UTC))
    except (TypeError, ValueError):
        return False


def check_checkpoint_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in {".", ".."}:
        raise EngineError(
            f"checkpoint name {name!r} must be letters, digits, '.', '_' or '-' (no '/')"
        )
    return name


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


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
        model_id, kind, name = checkpoint_location(path)
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
        tmp = staging_dir(final.parent, f".{final.name}.tmp-{os.getpid()}-")
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
        meta = json.loads((folder / CHECKPOINT_FILE).read_text())
        if is_expired(meta):
            self._remove(folder)
            raise EngineError(f"checkpoint not found: {path} (it expired at {meta['expires_at']})", "not_found")
        return meta

    def update_checkpoint_meta(self, path: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Rewrite the checkpoint's `checkpoint.json` with `changes` (atomically)."""
        meta = self.read_checkpoint_meta(path)
        meta.update(changes)
        write_json_atomic(self.checkpoint_dir(path) / CHECKPOINT_FILE, meta)
        return meta

    def _live_checkpoints(
        self, runs: str, now: datetime | None = None
    ) -> Iterator[tuple[str, Path, dict[str, Any]]]:
        """(kind, folder, meta) of every readable checkpoint under `runs_dir/<runs>`; expired
        ones are removed on the way and not yielded."""
        for kind in KIND_FOLDERS:
            for meta_path in self.runs_dir.glob(f"{runs}/{kind}/*/{CHECKPOINT_FILE}"):
                folder = meta_path.parent
                if folder.name.startswith("."):
                    continue
                try:
                    meta = json.loads(meta_path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
                if is_expired(meta, now):
                    self._remove(folder)
                    continue
                yield kind, folder, meta

    def remove_expired(self, now: datetime | None = None) -> None:
        """Delete every checkpoint past its `expires_at`."""
        for _ in self._live_checkpoints("*", now):
            pass

    def list_checkpoints(self, model_id: str) -> list[tuple[str, str, Path, dict[str, Any]]]:
        """(kind, name, folder, meta) for each checkpoint of the run, oldest first."""
        found = [
            (kind, folder.name, folder, meta)
            for kind, folder, meta in self._live_checkpoints(glob.escape(run_dir_name(model_id)))
        ]
        found.sort(key=lambda item: (item[3].get("created_at", ""), item[1]))
        return found

    def delete_checkpoint(self, path: str) -> None:
        self._remove(self.existing_checkpoint_dir(path))

    @staticmethod
    def _remove(folder: Path) -> None:
        trash = folder.parent / f".{folder.name}.deleted-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            return  # removed meanwhile (expired and swept by another reader)
        shutil.rmtree(trash, ignore_errors=True)


PEFT_WEIGHTS_FILE = "adapter_model.safetensors"
PEFT_CONFIG_FILE = "adapter_config.json"


def write_peft_export(folder: Path, tensors: dict[str, Any], base_model: str, rank: int, alpha: int) -> None:
    """The LoRA tensors (checkpoint names: `….lora_A.default.weight`) as a PEFT adapter folder
    that `PeftModel.from_pretrained(base, folder)` loads: PEFT saves names without the adapter's
    segment, and a config naming the wrapped modules."""
    from peft import LoraConfig as PeftLoraConfig
    from safetensors.torch import save_file

    exported = {re.sub(r"\.default(?=\.|$)", "", name): tensor for name, tensor in tensors.items()}
    modules = sorted(
        {name.removeprefix("base_model.model.").split(".lora_", 1)[0] for name in exported if ".lora_" in name}
    )
    save_file(exported, str(folder / PEFT_WEIGHTS_FILE))
    config = PeftLoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=modules, bias="none", task_type="CAUSAL_LM"
    ).to_dict()
    config = {key: sorted(value) if isinstance(value, set) else value for key, value in config.items()}
    config["base_model_name_or_path"] = base_model
    config["target_modules"] = modules
    config["peft_type"] = "LORA"
    config["task_type"] = "CAUSAL_LM"
    write_json_atomic(folder / PEFT_CONFIG_FILE, config)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
