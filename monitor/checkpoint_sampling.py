"""Chatting with a run's checkpoint, for the run screen's chat box, over OpenAI-compatible HTTP.

No engine runs in the TUI process and nothing heavy is imported here (stdlib only): a reply is one
`POST …/oai/api/v1/chat/completions` with the conversation so far, `model` = the checkpoint's
sampler path. Where that endpoint lives:

- a run on the local backend: a `cookbook-tui serve` child process over the data dir the run's
  engine used (`$COOKBOOK_TUI_DATA_DIR` or the user data dir), started on the first message and
  kept for later ones (the base model stays loaded), stopped when the app exits (and by itself
  if the app dies: `--parent-pid`);
- a run written by tinker-cookbook against a Tinker-compatible server (config.json `base_url`)
  that still answers: that server;
- a run on the Tinker service: Tinker's own endpoint (`TINKER_BASE_URL` or the service URL, with
  `TINKER_API_KEY`).

The run's model and backend come from recipe.toml, or for a run dir tinker-cookbook wrote alone,
from config.json (`model_name`, `renderer_name`, `base_url`). The server renders the messages
with the model's chat template.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPLY_MAX_TOKENS = 128
# Our deadline on one reply: a wedged server fails the chat, not the app.
REPLY_TIMEOUT_S = 120.0
# A child engine imports torch and loads nothing else before it listens: well under this.
ENGINE_START_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 3.0
OAI_PATH = "/oai/api/v1"
# tinker.lib.base_url.DEFAULT_BASE_URL (copied: the TUI process never imports tinker).
TINKER_SERVICE_URL = "https://tinker.thinkingmachines.dev/services/tinker-prod"
LOCAL_API_KEY = "tml-local"


class ChatUnavailable(Exception):
    """This checkpoint cannot be chatted with; the message says why, for the chat box."""


@dataclass(frozen=True)
class ChatSource:
    """What the run dir says about where its checkpoints live."""

    backend: str  # "local" | "tinker"
    model_name: str | None
    renderer_name: str | None
    base_url: str | None  # a Tinker-compatible server the run trained against, if it said so


@dataclass(frozen=True)
class ChatEndpoint:
    url: str  # …/oai/api/v1
    api_key: str
    where: str  # for messages: "the local engine (data dir …)", "the Tinker service at …"


def chat_source(run_dir: Path) -> ChatSource:
    recipe_file = run_dir / "recipe.toml"
    if recipe_file.exists():
        from cookbook_tui.recipes import RecipeError, load_recipe

        try:
            recipe = load_recipe(recipe_file)
        except RecipeError as exc:
            raise ChatUnavailable(f"{recipe_file} does not load: {exc}") from None
        renderer = recipe.settings.model.renderer if recipe.settings.model else None
        return ChatSource(recipe.backend, recipe.model_name, renderer, None)
    config_file = run_dir / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise ChatUnavailable(
            f"{run_dir} has neither recipe.toml nor config.json, so its model and backend are unknown"
        ) from None
    except (OSError, ValueError) as exc:
        raise ChatUnavailable(f"{config_file} is not readable JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ChatUnavailable(f"{config_file} is not a JSON object")
    model_name = _find_key(config, "model_name")
    if not isinstance(model_name, str):
        raise ChatUnavailable(f"{config_file} has no model_name, so the checkpoint's model is unknown")
    base_url = config.get("base_url")
    base_url = base_url.rstrip("/") if isinstance(base_url, str) and base_url else None
    renderer = _find_key(config, "renderer_name")
    # tinker-cookbook without a base_url trained on the Tinker service.
    backend = "local" if base_url and _is_loopback_url(base_url) else "tinker"
    return ChatSource(backend, model_name, renderer if isinstance(renderer, str) else None, base_url)


def _find_key(config: dict[str, Any], key: str) -> Any:
    """`config[key]`, else the first `key` in a nested section (RL configs keep it in the dataset)."""
    if key in config:
        return config[key]
    for value in config.values():
        if isinstance(value, dict):
            found = _find_key(value, key)
            if found is not None:
                return found
    return None


def _is_loopback_url(url: str) -> bool:
    from urllib.parse import urlparse

    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def endpoint_for(source: ChatSource) -> ChatEndpoint:
    if source.backend == "tinker":
        key = os.environ.get("TINKER_API_KEY")
        if not key:
            raise ChatUnavailable("chatting with a Tinker checkpoint needs the TINKER_API_KEY environment variable")
        base = (source.base_url or os.environ.get("TINKER_BASE_URL") or TINKER_SERVICE_URL).rstrip("/")
        return ChatEndpoint(base + OAI_PATH, key, f"the Tinker service at {base}")
    if source.base_url and _healthy(source.base_url):
        key = os.environ.get("TINKER_API_KEY") or LOCAL_API_KEY
        return ChatEndpoint(source.base_url + OAI_PATH, key, f"the server the run trained against ({source.base_url})")
    engine = local_engine(_local_data_dir())
    return ChatEndpoint(engine.base_url + OAI_PATH, LOCAL_API_KEY, f"the local engine (data dir {engine.data_dir})")


def sample_reply(
    run_dir: Path, sampler_path: str, history: list[dict[str, str]], max_tokens: int = REPLY_MAX_TOKENS
) -> str:
    """The checkpoint's reply to the conversation `history` ([{role, content}, …], user last)."""
    endpoint = endpoint_for(chat_source(run_dir))
    body = {"model": sampler_path, "messages": history, "max_tokens": max_tokens, "temperature": 0.0}
    request = urllib.request.Request(
        endpoint.url + "/chat/completions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {endpoint.api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=REPLY_TIMEOUT_S) as response:
            reply = json.load(response)
    except urllib.error.HTTPError as err:
        message = _error_message(err)
        if err.code == 404:
            hint = ""
            if endpoint.where.startswith("the local engine"):
                hint = "; if the run trained in another data dir, set COOKBOOK_TUI_DATA_DIR to it"
            raise ChatUnavailable(f"{message} (searched {endpoint.where}{hint})") from None
        raise ChatUnavailable(f"{endpoint.where} answered {err.code}: {message}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChatUnavailable(f"no reply from {endpoint.where} within {REPLY_TIMEOUT_S:g} s: {reason}") from None
    try:
        return str(reply["choices"][0]["message"]["content"] or "").strip()
    except (KeyError, IndexError, TypeError):
        raise ChatUnavailable(f"{endpoint.where} sent a reply without choices: {str(reply)[:200]}") from None


def _error_message(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read() or b"{}")
    except ValueError:
        return err.reason or f"HTTP {err.code}"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or body or err.reason)


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/api/v1/healthz", timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def _local_data_dir() -> Path:
    from cookbook_tui.common.dirs import resolve_data_dir

    return resolve_data_dir(None)


# -- the child engine ---------------------------------------------------------------------------


class LocalEngineProcess:
    """`cookbook-tui serve --port 0 --data-dir D` as a child process; `base_url` once it listens."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.base_url = ""
        self.process: subprocess.Popen[str] | None = None
        self.log_file = data_dir / "chat-engine.log"

    def start(self, timeout: float = ENGINE_START_TIMEOUT_S) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "cookbook_tui.cli", "serve", "--port", "0",
            "--data-dir", str(self.data_dir), "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        with open(self.log_file, "w") as log:
            self.process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                start_new_session=True,  # Ctrl-C in the TUI is the TUI's, not the engine's
            )  # fmt: skip
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, name="chat-engine-stdout", daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                self.stop()
                tail = self._log_tail()
                what = "exited" if line is None else f"did not listen within {timeout:g} s"
                raise ChatUnavailable(f"the local engine {what} (log {self.log_file}){': ' + tail if tail else ''}")
            if line.startswith("TINKER_BASE_URL="):
                self.base_url = line.split("=", 1)[1].strip()
                return

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _log_tail(self) -> str:
        try:
            lines = [line for line in self.log_file.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""


_engines: dict[Path, LocalEngineProcess] = {}
_engines_lock = threading.Lock()


def local_engine(data_dir: Path) -> LocalEngineProcess:
    """The running child engine for `data_dir`, started (or restarted) now if needed."""
    with _engines_lock:
        engine = _engines.get(data_dir)
        if engine is None or not engine.alive():
            engine = LocalEngineProcess(data_dir)
            engine.start()
            if not _engines:
                atexit.register(stop_local_engines)
            _engines[data_dir] = engine
        return engine


def stop_local_engines() -> None:
    """Stop every child engine this process started (the app calls this on exit)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.stop()
