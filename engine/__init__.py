"""The local Tinker-compatible engine: the model core (engine.py) and its HTTP server.

`start_local_server()` runs the server in a background thread of the calling process, with its
own event loop; unmodified `tinker.ServiceClient(base_url=server.base_url)` clients (and
tinker-cookbook's loops) then train against it. Heavy imports (aiohttp, torch) happen only when a
server starts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cookbook_tui.common.dirs import resolve_data_dir

if TYPE_CHECKING:
    from aiohttp import web

    from .server import EngineServer

logger = logging.getLogger("cookbook_tui.engine")

# The SDK refuses API keys without this prefix, so even the unchecked loopback key carries it.
API_KEY_PREFIX = "tml-"
DEFAULT_LOCAL_API_KEY = "tml-local"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse setups that would expose the engine without a key, or a key the SDK rejects."""
    if api_key is not None and not api_key.startswith(API_KEY_PREFIX):
        raise ValueError(f"the API key must start with {API_KEY_PREFIX!r} (the tinker SDK refuses others)")
    if not is_loopback(host) and api_key is None:
        raise ValueError(
            f"host {host!r} is not a loopback address: anyone who can reach it could train and read "
            f"checkpoints, so an API key is required (e.g. --api-key {API_KEY_PREFIX}<secret>)"
        )


class LocalServer:
    """A running local engine server; a context manager that stops it on exit."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        api_key: str,
        data_dir: Path,
        stop: Callable[[], None],
        engine_server: EngineServer | None = None,
    ) -> None:
        self.engine_server = engine_server  # the protocol state (sessions, futures), for inspection
        self.host = host
        self.port = port
        self.api_key = api_key
        self.data_dir = data_dir
        url_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{url_host}:{port}"
        self._stop = stop

    def stop(self) -> None:
        self._stop()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r}, data_dir={str(self.data_dir)!r})"


def start_local_server(
    data_dir: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    *,
    max_body_bytes: int | None = None,
    hold_seconds: float | None = None,
    torch_threads: int | None = 1,
    session_timeout_seconds: float | None = None,
    hangup_grace_seconds: float | None = None,
) -> LocalServer:
    """Start the engine server in a background thread and return once it accepts connections.

    `port=0` picks a free port. Without `api_key` the server binds loopback only and accepts any
    key (clients still send one: `LocalServer.api_key`, `tml-local`); with one, every request
    must carry it in `X-API-Key`. Raises `ValueError` for an unsafe host/key and `OSError` when
    the address cannot be bound.

    `session_timeout_seconds`: a session whose heartbeats stop for this long expires and its
    queued work is dropped (default 60 s; the SDK heartbeats every 10 s).
    `hangup_grace_seconds`: how long a request whose client closed its connection may wait to be
    asked for again before it is cancelled (default 2 s).

    `torch_threads` sets torch's intra-op threads for the whole process (None leaves them). In a
    process that also runs a training loop, the loop's own torch calls and the engine thread
    each drive an OpenMP team on the same cores and spin against each other: measured on 2 cores,
    a 4-sequence forward_backward of the tiny model took 1.2 s with 2 threads and 35 ms with 1.
    """
    check_bind(host, api_key)
    from cookbook_tui.common.tiny_model import set_offline_env

    set_offline_env()
    from .server import DEFAULT_MAX_BODY_BYTES

    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)

    resolved_dir = resolve_data_dir(data_dir)
    resolved_dir.mkdir(parents=True, exist_ok=True)
    engine_server = _engine_server(
        resolved_dir,
        api_key,
        hold_seconds=hold_seconds,
        session_timeout_seconds=session_timeout_seconds,
        hangup_grace_seconds=hangup_grace_seconds,
    )
    serving = _ServingThread(engine_server.app(_or_default(max_body_bytes, DEFAULT_MAX_BODY_BYTES)), host, port)
    try:
        serving.start()
    except BaseException:
        engine_server.close()
        raise
    server = LocalServer(
        host=host,
        port=serving.port,
        api_key=api_key or DEFAULT_LOCAL_API_KEY,
        data_dir=resolved_dir,
        stop=serving.stop,
        engine_server=engine_server,
    )
    logger.info("local engine listening on %s (data dir %s)", server.base_url, resolved_dir)
    return server


_T = TypeVar("_T")


def _or_default(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _engine_server(
    data_dir: Path,
    api_key: str | None,
    *,
    hold_seconds: float | None,
    session_timeout_seconds: float | None,
    hangup_grace_seconds: float | None,
) -> EngineServer:
    """The protocol state over a new `Engine` on `data_dir`; a setting left None takes the
    server's default."""
    from .engine import Engine
    from .server import (
        DEFAULT_HANGUP_GRACE_SECONDS,
        DEFAULT_HOLD_SECONDS,
        DEFAULT_SESSION_TIMEOUT_SECONDS,
        EngineServer,
    )

    return EngineServer(
        Engine(data_dir),
        api_key=api_key,
        hold_seconds=_or_default(hold_seconds, DEFAULT_HOLD_SECONDS),
        session_timeout_seconds=_or_default(session_timeout_seconds, DEFAULT_SESSION_TIMEOUT_SECONDS),
        hangup_grace_seconds=_or_default(hangup_grace_seconds, DEFAULT_HANGUP_GRACE_SECONDS),
    )


class _ServingThread:
    """An aiohttp app served on its own event loop in a daemon thread."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        from aiohttp import web

        self.host = host
        self.port = port  # the bound port once started (0 asks for a free one)
        self._loop = asyncio.new_event_loop()
        # A short shutdown grace: held retrieve_future calls need not be waited for.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="cookbook-tui-engine-server", daemon=True)

    def start(self) -> None:
        """Return once the app accepts connections; raise the bind error when it cannot."""
        self._thread.start()
        self._started.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)

    async def _bind(self) -> None:
        from aiohttp import web

        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as exc:  # hand bind errors to the caller
            self._error = exc
        self._started.set()
        if self._error is None:
            loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()


__all__ = ["LocalServer", "start_local_server", "resolve_data_dir", "is_loopback", "check_bind"]
