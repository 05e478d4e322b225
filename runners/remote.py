"""The account's training runs and checkpoints on a Tinker server (the service, or any
Tinker-compatible server through TINKER_BASE_URL — `cookbook-tui serve` in the tests).

Everything goes through the tinker SDK's RestClient; each call gets our own deadline (the SDK
retries for minutes otherwise), and a server that does not answer its health probe fails at once
with the URL named. Results are plain dataclasses so the CLI prints them and the TUI shows them.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cookbook_tui.common.files import staging_dir
from cookbook_tui.runners.rundir import find_run_dirs, read_checkpoints

CALL_SECONDS = 30.0  # one REST call
DOWNLOAD_SECONDS = 600.0
PAGE = 20  # the service's default page; we page past it


class RemoteError(Exception):
    """A remote call failed: the message says what and where, for the CLI and the TUI alike."""


@dataclass
class RemoteCheckpoint:
    tinker_path: str
    checkpoint_id: str
    kind: str  # training | sampler | external
    size_bytes: int | None
    created: str | None
    expires: str | None
    public: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RemoteRun:
    run_id: str
    base_model: str
    is_lora: bool
    lora_rank: int | None
    last_request: str | None
    corrupted: bool
    local_run_dir: str | None = None
    last_checkpoint: str | None = None
    user_metadata: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_size(n: int | None) -> str:
    """Bytes for people: 176.0 MiB; "-" when unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _checkpoint(raw: Any) -> RemoteCheckpoint:
    return RemoteCheckpoint(
        tinker_path=raw.tinker_path,
        checkpoint_id=raw.checkpoint_id,
        kind=raw.checkpoint_type,
        size_bytes=raw.size_bytes,
        created=_iso(raw.time),
        expires=_iso(raw.expires_at),
        public=bool(raw.public),
    )


def run_id_of(tinker_path: str) -> str | None:
    from tinker import types

    try:
        return types.ParsedCheckpointTinkerPath.from_tinker_path(tinker_path).training_run_id
    except ValueError:
        return None


def local_run_index(roots: Iterable[Path]) -> dict[str, Path]:
    """Training run id → local run dir, from the tinker paths in each run's checkpoints.jsonl."""
    index: dict[str, Path] = {}
    for run_dir in find_run_dirs(roots):
        for log_path in (run_dir, run_dir / "warmup"):
            for row in read_checkpoints(log_path):
                for key in ("state_path", "sampler_path"):
                    run_id = run_id_of(str(row.get(key) or ""))
                    if run_id:
                        index.setdefault(run_id, run_dir)
    return index


class Remote:
    """A session with one server. `base_url` None means TINKER_BASE_URL, else the service."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        from cookbook_tui.common.tiny_model import set_offline_env

        set_offline_env()
        self.base_url = base_url or os.environ.get("TINKER_BASE_URL") or None
        self.api_key = api_key or os.environ.get("TINKER_API_KEY")
        if not self.api_key:
            raise RemoteError("TINKER_API_KEY is not set (the Tinker service needs your key)")
        self._service: Any = None
        self._rest: Any = None

    @property
    def where(self) -> str:
        return self.base_url or "the Tinker service"

    def _connect(self) -> Any:
        if self._rest is None:
            from cookbook_tui.runners.service_probe import BackendError, probe_service

            try:
                probe_service(self.base_url)
            except BackendError as exc:
                raise RemoteError(str(exc)) from None
            import tinker

            self._rest = tinker.RestClient(base_url=self.base_url, api_key=self.api_key)
        return self._rest

    def _wait(self, future: Any, what: str, seconds: float = CALL_SECONDS) -> Any:
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            raise RemoteError(f"{what}: no answer from {self.where} within {seconds:.0f} s") from None
        except RemoteError:
            raise
        except Exception as exc:  # the SDK's API errors carry the server's message
            raise RemoteError(f"{what}: {getattr(exc, 'message', None) or exc}") from None

    def runs(self, local_roots: Iterable[Path] = (Path("runs"),)) -> list[RemoteRun]:
        rest = self._connect()
        raw_runs: list[Any] = []
        offset = 0
        while True:
            page = self._wait(rest.list_training_runs(limit=PAGE, offset=offset), "list training runs")
            raw_runs.extend(page.training_runs)
            offset += len(page.training_runs)
            if not page.training_runs or offset >= page.cursor.total_count:
                break
        local = local_run_index(local_roots)
        return [
            RemoteRun(
                run_id=r.training_run_id,
                base_model=r.base_model,
                is_lora=r.is_lora,
                lora_rank=r.lora_rank,
                last_request=_iso(r.last_request_time),
                corrupted=r.corrupted,
                local_run_dir=str(local[r.training_run_id]) if r.training_run_id in local else None,
                last_checkpoint=r.last_checkpoint.tinker_path if r.last_checkpoint else None,
                user_metadata=dict(r.user_metadata or {}),
            )
            for r in raw_runs
        ]

    def checkpoints(self, run_id: str) -> list[RemoteCheckpoint]:
        rest = self._connect()
        response = self._wait(rest.list_checkpoints(run_id), f"list checkpoints of {run_id}")
        return [_checkpoint(c) for c in response.checkpoints]

    def publish(self, tinker_path: str, public: bool = True) -> None:
        rest = self._connect()
        call = rest.publish_checkpoint_from_tinker_path if public else rest.unpublish_checkpoint_from_tinker_path
        self._wait(call(tinker_path), f"{'publish' if public else 'unpublish'} {tinker_path}")

    def set_ttl(self, tinker_path: str, ttl_seconds: int | None) -> None:
        """None keeps the checkpoint forever."""
        rest = self._connect()
        self._wait(rest.set_checkpoint_ttl_from_tinker_path(tinker_path, ttl_seconds), f"set the TTL of {tinker_path}")

    def delete(self, tinker_path: str) -> None:
        rest = self._connect()
        self._wait(rest.delete_checkpoint_from_tinker_path(tinker_path), f"delete {tinker_path}")

    def download(self, tinker_path: str, dest: Path) -> list[Path]:
        """Download a checkpoint's files into `dest` (a PEFT adapter for LoRA sampler weights:
        adapter_config.json + adapter_model.safetensors). A training checkpoint is exported as
        external weights first, as `tinker checkpoint download` does. Written into a temporary
        folder beside `dest` and renamed, so a failed download leaves nothing behind."""
        from tinker import types

        try:
            kind = types.ParsedCheckpointTinkerPath.from_tinker_path(tinker_path).checkpoint_type
        except ValueError:
            raise RemoteError(f"not a tinker checkpoint path: {tinker_path!r}") from None
        if kind == "sampler":
            # Tinker exports training checkpoints (weights/…), as `tinker checkpoint download` does
            training = tinker_path.replace("/sampler_weights/", "/weights/")
            raise RemoteError(
                f"{tinker_path}: sampler weights cannot be downloaded; download the training checkpoint "
                f"({training}) instead"
            )
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise RemoteError(f"{dest} already exists and is not empty")
        rest = self._connect()
        export_path, temporary = tinker_path, False
        if kind == "training":
            import tinker

            if self._service is None:
                self._service = tinker.ServiceClient(base_url=self.base_url, api_key=self.api_key)
            client = self._wait(
                self._service.create_training_client_from_state(tinker_path), f"load {tinker_path}", DOWNLOAD_SECONDS
            )
            export_path = self._wait(
                client.save_weights_external("download", ttl_seconds=3600), f"export {tinker_path}", DOWNLOAD_SECONDS
            ).path
            temporary = True
        try:
            urls = self._wait(rest.get_external_weights_urls(export_path), f"get download URLs of {tinker_path}").urls
            if not urls:
                raise RemoteError(f"{tinker_path}: the server lists no files to download")
            staging = staging_dir(dest.parent, f".{dest.name}.")
            try:
                written = []
                for name, url in sorted(urls.items()):
                    target = (staging / name).resolve()
                    if not target.is_relative_to(staging.resolve()):
                        raise RemoteError(f"{tinker_path}: unsafe file name in the checkpoint: {name!r}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with urllib.request.urlopen(url, timeout=DOWNLOAD_SECONDS) as response, open(target, "wb") as out:
                        shutil.copyfileobj(response, out)
                    written.append(dest / name)
                if dest.exists():
                    dest.rmdir()
                os.replace(staging, dest)
                return written
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        except OSError as exc:
            raise RemoteError(f"download {tinker_path}: {exc}") from None
        finally:
            if temporary:
                try:
                    rest.delete_checkpoint_from_tinker_path(export_path).result(timeout=CALL_SECONDS)
                except Exception:  # it expires on its own within the hour
                    pass

    def chat(self, model: str, messages: list[dict[str, str]], max_tokens: int = 64) -> str:
        """One reply from a base model or a sampler checkpoint through the server's
        OpenAI-compatible API (`/oai/api/v1/chat/completions`); greedy, for comparisons."""
        import json

        from tinker.lib.base_url import resolve_base_url

        url = resolve_base_url(self.base_url) + "/oai/api/v1/chat/completions"
        body = json.dumps({"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.0})
        request = urllib.request.Request(
            url, data=body.encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=CALL_SECONDS) as response:
                return str(json.load(response)["choices"][0]["message"]["content"])
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise RemoteError(f"chat with {model}: HTTP {exc.code}: {detail}") from None
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise RemoteError(f"chat with {model} at {url}: {exc}") from None

    def sample_each(self, model_paths: list[str], prompt: str, max_tokens: int = 64) -> list[tuple[str, str]]:
        """The same prompt to each checkpoint (side by side); an error is that one's answer."""
        answers = []
        for path in model_paths:
            try:
                answer = self.chat(path, [{"role": "user", "content": prompt}], max_tokens)
            except RemoteError as exc:
                answer = f"error: {exc}"
            answers.append((path, answer))
        return answers

    def close(self) -> None:
        """Stop the SDK clients' background work (heartbeats, connection pools)."""
        for client in (self._rest, self._service):
            holder = getattr(client, "holder", None)
            if holder is not None:
                holder.close()
        self._service = self._rest = None
