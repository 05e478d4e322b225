"""The aiohttp app that speaks tinker 0.38.0's wire protocol over an `Engine`.

Paths, bodies and answers follow the installed SDK (`tinker/resources/*`,
`tinker/lib/internal_client_holder.py`, `tinker/lib/api_future_impl.py`,
`tinker/lib/public_interfaces/*`). The server only converts: every piece of model work is an
`Engine` call, made on one worker thread so the event loop keeps answering heartbeats, futures and
other clients while a step runs. Requests that do model work answer with a future (see
`futures.py`); reads answer directly.

Answers: every JSON answer is a tinker response model (`tinker.types`: `CreateSessionResponse`,
`UntypedAPIFuture`, `TryAgainResponse`, `TrainingRunsResponse`, ...) written by `wire.dump`, so
the server cannot send a body the SDK would not parse. Hand-written bodies remain only where the
SDK has no type: error bodies (`{"error": message}`, read from the HTTP error by the SDK's status
errors) and the `{}` of the endpoints the SDK reads as `NoneType` (session finish,
cancel_future, checkpoint TTL/publish/delete).

Errors: a body the server cannot read, an unknown id or a request the engine refuses answers 4xx
with `{"error": message}`; engine failures inside a future come back through `retrieve_future`
as `{"error", "category"}`, which the SDK raises with that message.

Sessions: a session whose heartbeats (and requests) stop for `session_timeout_seconds` expires:
its queued work is dropped and its models unloaded. A client that hung up is one whose
`retrieve_future` connection for a request closed before the answer, with no other
`retrieve_future` for it open and none arriving within `hangup_grace_seconds` (the SDK re-polls
at once after a try_again or a dropped connection; it only stops when it was killed or gave up):
that request is cancelled. And a session with work waiting whose every connection closed (a killed
process: the kernel closes them all) for `hangup_grace_seconds` has that work dropped; a live SDK
client always holds a poll open while it waits. Work is shared round robin between sessions (`scheduler.py`).
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import os
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pydantic
from aiohttp import web
from aiohttp.http_exceptions import PayloadEncodingError
from tinker import types
from tinker.types.try_again_response import TryAgainResponse  # not re-exported by tinker.types

from .checkpoints import parse_tinker_path
from .errors import EngineError
from .futures import FutureOutcome, FutureStore, OrderedQueue, PendingFuture
from .openai_api import OAI_PREFIX, OpenAIEndpoints, oai_error
from .sample_jobs import SampleJob
from .scheduler import Scheduler
from .wire import (
    PROTOBUF_CONTENT_TYPE,
    WireError,
    decode_forward_backward_request,
    dump,
    encode_forward_backward_output,
    encode_sample_response,
    parse_json_request,
    peek_model_and_seq,
)

if TYPE_CHECKING:
    from .engine import Engine

logger = logging.getLogger("cookbook_tui.engine.server")

API = "/api/v1"
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024
# The SDK gives one retrieve_future call 45 s; answer try_again well before that.
DEFAULT_HOLD_SECONDS = 30.0
MAX_NUM_SAMPLES = 1024
# The SDK heartbeats every 10 s: six missed in a row and the session is gone.
DEFAULT_SESSION_TIMEOUT_SECONDS = 60.0
DEFAULT_HANGUP_GRACE_SECONDS = 2.0
# Queue key of work that belongs to no session (REST reads).
SYSTEM_KEY = "-"
# Signed download links for external weights (what `tinker checkpoint download` fetches, with
# no API key): served by this server itself, valid this long.
EXTERNAL_FILES_PATH = "/external_weights_files"
EXTERNAL_URL_SECONDS = 3600
EXPIRED_CHECKPOINT_SWEEP_SECONDS = 60.0
# Metrics from optim_step are merged into every cookbook metrics row: keep them in our namespace.
METRIC_NAMESPACE = "engine/"

# What /client/config tells the SDK: API-key auth, per-request futures, client-side custom losses.
CLIENT_CONFIG = types.ClientConfigResponse(
    pjwt_auth_enabled=False,
    credential_default_source="api_key",
    proto_compress_fwdbwd=False,
    # One long poll per sampling session (POST retrieve_futures) instead of one per sample.
    sample_use_retrieve_futures=True,
    custom_loss_server_side=False,
    sample_join_sampling_session=False,
)
# An abandoned sample future is cancelled with POST cancel_future.
CLIENT_DYNAMIC_CONFIG = types.ClientDynamicConfigResponse(refresh_interval_sec=300, sample_cancel_enabled=True)

# The request being handled, so that whatever names a session can note the connection it came on.
_current_request: contextvars.ContextVar[web.Request | None] = contextvars.ContextVar("request", default=None)

_ERROR_STATUS = {"user": 400, "not_found": 404, "server": 500}
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    """An HTTP error: the SDK has no type for its body, it raises a status error with the text."""
    return web.json_response({"error": message}, status=status)


def _reply(response: pydantic.BaseModel) -> web.Response:
    return web.json_response(dump(response))


def _done() -> web.Response:
    """The answer of an endpoint the SDK reads as `NoneType` (no tinker type: any body is ignored)."""
    return web.json_response({})


def _session_of(model_id: str) -> str:
    return model_id.rsplit(":train:", 1)[0]


def _session_of_any(some_id: str) -> str:
    """The session a model id (`<session>:train:<n>`) or sampler id (`<session>:sample:<n>`)
    belongs to."""
    for marker in (":train:", ":sample:"):
        if marker in some_id:
            return some_id.rsplit(marker, 1)[0]
    return SYSTEM_KEY


def _namespaced(metrics: dict[str, float]) -> dict[str, float]:
    return {
        (key if key.startswith(METRIC_NAMESPACE) else METRIC_NAMESPACE + key): float(value)
        for key, value in metrics.items()
    }


def _future_category(exc: BaseException) -> str:
    if isinstance(exc, EngineError):
        return "server" if exc.category == "server" else "user"
    return "server"


@dataclass
class _Session:
    session_id: str
    finished: bool = False
    expired: bool = False
    last_seen: float = field(default_factory=time.monotonic)
    # The connections this session's requests came on (id -> transport), and since when none of
    # them is open while it has work waiting.
    transports: dict[int, Any] = field(default_factory=dict)
    disconnected_since: float | None = None

    def connected(self) -> bool:
        for key, transport in list(self.transports.items()):
            if transport.is_closing():
                del self.transports[key]
        return bool(self.transports)


class EngineServer:
    """The protocol state (sessions, samplers, futures, per-model queues) over one Engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        api_key: str | None = None,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        gap_seconds: float = 30.0,
        session_timeout_seconds: float = DEFAULT_SESSION_TIMEOUT_SECONDS,
        hangup_grace_seconds: float = DEFAULT_HANGUP_GRACE_SECONDS,
    ) -> None:
        self.engine = engine
        self.api_key = api_key
        self.hold_seconds = hold_seconds
        self.gap_seconds = gap_seconds
        self.session_timeout_seconds = session_timeout_seconds
        self.hangup_grace_seconds = hangup_grace_seconds
        self.futures = FutureStore()
        self.scheduler = Scheduler(engine)
        self._url_secret = os.urandom(32)
        self.sessions: dict[str, _Session] = {}
        self.samplers: set[str] = set()
        self.models: set[str] = set()
        self.queues: dict[str, OrderedQueue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.max_body_bytes = DEFAULT_MAX_BODY_BYTES

    # -- plumbing -------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Any], *args: Any, key: str = SYSTEM_KEY, **kwargs: Any) -> Any:
        """Run `fn` on the engine thread, queued under session `key`."""
        return await self.scheduler.call(key, lambda: fn(*args, **kwargs))

    def _touch(self, key: str | None) -> None:
        session = self.sessions.get(key) if key else None
        if session is not None:
            self._seen(session)

    def _seen(self, session: _Session) -> None:
        session.last_seen = time.monotonic()
        request = _current_request.get()
        transport = request.transport if request is not None else None
        if transport is not None and not transport.is_closing():
            session.transports[id(transport)] = transport
            session.disconnected_since = None

    def _check_hangups(self, now: float) -> None:
        """A session with work waiting and none of its connections open for
        `hangup_grace_seconds` hung up (its process died: the kernel closed every socket): its
        waiting work is dropped. A live SDK client always holds a poll open while it waits."""
        for session in self.sessions.values():
            if session.finished or session.connected():
                session.disconnected_since = None
                continue
            waiting = self.futures.unfinished(session.session_id)
            if not waiting and not self.scheduler.queued(session.session_id):
                session.disconnected_since = None
                continue
            if session.disconnected_since is None:
                session.disconnected_since = now
            elif now - session.disconnected_since >= self.hangup_grace_seconds:
                reason = f"session {session.session_id!r}: the client hung up (every connection closed)"
                dropped = self.scheduler.drop(session.session_id, reason)
                for future in waiting:
                    self.futures.cancel(future, reason)
                logger.info("%s; dropped %d queued, %d waiting", reason, dropped, len(waiting))
                session.disconnected_since = None

    async def _expire_sessions(self) -> None:
        """Every second: sessions not heard from for `session_timeout_seconds` expire (and once
        a minute, checkpoints past their TTL are removed)."""
        last_sweep = 0.0
        while True:
            await asyncio.sleep(min(1.0, self.session_timeout_seconds / 4))
            now = time.monotonic()
            self._check_hangups(now)
            if now - last_sweep > EXPIRED_CHECKPOINT_SWEEP_SECONDS:
                last_sweep = now
                try:
                    await asyncio.to_thread(self.engine.store.remove_expired)
                except OSError as exc:
                    logger.warning("removing expired checkpoints failed: %s", exc)
            for session in list(self.sessions.values()):
                if not session.finished and now - session.last_seen > self.session_timeout_seconds:
                    logger.info("session %s expired (no heartbeat for %.0f s)", session.session_id, now - session.last_seen)
                    session.expired = True
                    await self._end_session(session, f"session {session.session_id!r} expired (no heartbeat)")

    async def _end_session(self, session: _Session, reason: str) -> None:
        """Drop the session's queued work and free its models (runs and checkpoints stay)."""
        session.finished = True
        dropped = self.scheduler.drop(session.session_id, reason)
        for future in self.futures.unfinished(session.session_id):
            self.futures.cancel(future, reason)
        for model_id in [m for m in self.models if _session_of(m) == session.session_id]:
            self.models.discard(model_id)
            queue = self.queues.pop(model_id, None)
            if queue is not None:
                queue.close()
            await self._call(self.engine.unload_model, model_id)
        if dropped:
            logger.info("%s: dropped %d queued requests", reason, dropped)

    def _hung_up(self, future: PendingFuture) -> None:
        """A held retrieve_future for `future` lost its connection: cancel the work unless the
        client asks again within the grace time."""
        if future.watchers > 0 or future.done.is_set():
            return

        def check() -> None:
            if future.watchers == 0 and not future.done.is_set():
                logger.info("%s: the client hung up; cancelled", future.request_id)
                self.futures.cancel(future, f"request {future.request_id} cancelled: the client hung up")

        asyncio.get_running_loop().call_later(self.hangup_grace_seconds, check)

    async def _json(self, request: web.Request) -> Any:
        raw = await request.read()
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WireError(f"{request.path}: body is not valid JSON ({exc})") from None
        except RecursionError:
            # json.loads recurses once per level: a body of 10**5 '[' would otherwise be a 500.
            raise WireError(f"{request.path}: body is nested too deeply to be a request") from None

    async def _parse(self, request: web.Request, model_cls: type) -> Any:
        return parse_json_request(model_cls, await self._json(request))

    def _require_session(self, session_id: str) -> _Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise EngineError(f"unknown session_id {session_id!r}", "not_found")
        if session.finished:
            what = "expired (its heartbeats stopped)" if session.expired else "finished"
            raise EngineError(f"session {session_id!r} has {what}", "user")
        self._seen(session)
        return session

    def _require_model(self, model_id: str) -> None:
        if model_id not in self.models:
            raise EngineError(f"unknown model_id {model_id!r}", "not_found")
        self._touch(_session_of(model_id))

    def _queue(self, model_id: str) -> OrderedQueue:
        queue = self.queues.get(model_id)
        if queue is None:
            # seq_id 0 is the create (or create-via-load); the client's requests start at 1.
            queue = self.queues[model_id] = OrderedQueue(model_id, next_seq=1, gap_seconds=self.gap_seconds)
        return queue

    def _start_future(
        self,
        kind: str,
        work: Callable[[], FutureOutcome],
        *,
        model_id: str | None = None,
        seq_id: int | None = None,
        ordered: bool = False,
        on_error: Callable[[], None] | None = None,
    ) -> web.Response:
        """Answer with a request id now; run `work` on the engine thread (in `seq_id` order on
        the model's queue when `ordered`) and keep its outcome for `retrieve_future`."""
        queue_id = model_id if ordered else None
        key = _session_of_any(model_id) if model_id is not None else SYSTEM_KEY
        future = self._launch(kind, work, model_id=queue_id, seq_id=seq_id, on_error=on_error, key=key)
        return _reply(types.UntypedAPIFuture(request_id=future.request_id, model_id=model_id))

    def _launch(
        self,
        kind: str,
        work: Callable[[], FutureOutcome],
        *,
        model_id: str | None = None,
        seq_id: int | None = None,
        on_error: Callable[[], None] | None = None,
        key: str = SYSTEM_KEY,
    ) -> PendingFuture:
        future = self.futures.create(kind, session=key)

        async def job() -> None:
            try:
                outcome = await self.scheduler.call(key, work, is_cancelled=future.is_cancelled)
            except Exception as exc:  # every failure must reach the client, never kill the loop
                if not isinstance(exc, EngineError):
                    logger.exception("%s %s failed", kind, future.request_id)
                if on_error is not None:
                    on_error()
                message = exc.message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                outcome = FutureOutcome(error=message, category=_future_category(exc))
            self.futures.finish(future, outcome)

        if model_id is not None:
            try:
                self._queue(model_id).submit(seq_id, job)
            except EngineError as exc:  # a seq_id sent twice: refuse it, and let its future go
                self.futures.finish(future, FutureOutcome(error=exc.message, category="user"))
                raise
        else:
            task = asyncio.get_running_loop().create_task(job())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    def close(self) -> None:
        for queue in self.queues.values():
            queue.close()
        for task in list(self._tasks):
            task.cancel()
        self.scheduler.close()

    # -- middleware -----------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        declared = request.content_length
        if declared is not None and declared > self.max_body_bytes:
            # Answer before reading: aiohttp only counts bytes as they arrive, so a client that
            # declares 1 GB and sends less would otherwise wait on us until its own timeout.
            return _error(
                413, f"{request.path}: body too large ({declared} bytes declared, limit {self.max_body_bytes})"
            )
        token = _current_request.set(request)
        try:
            return await handler(request)
        except (ConnectionResetError, PayloadEncodingError) as exc:
            # The client went away mid-body: nobody will read an answer, and it is not our fault.
            logger.debug("%s %s: incomplete body (%s)", request.method, request.path, exc)
            return _error(400, f"{request.path}: the connection closed before the whole body arrived")
        except WireError as exc:
            return _error(400, str(exc))
        except EngineError as exc:
            return _error(_ERROR_STATUS.get(exc.category, 400), exc.message)
        except web.HTTPRequestEntityTooLarge as exc:
            return _error(413, f"{request.path}: body too large ({exc.text})")
        except web.HTTPNotFound:
            return _error(404, f"{request.method} {request.path} is not an endpoint of the local engine")
        except web.HTTPMethodNotAllowed:
            return _error(405, f"{request.method} is not allowed on {request.path}")
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason or exc.text or "error")
        except Exception as exc:
            logger.exception("%s %s failed", request.method, request.path)
            return _error(500, f"{type(exc).__name__}: {exc}")
        finally:
            _current_request.reset(token)

    @web.middleware
    async def _auth(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        if self.api_key is not None and request.path != API + EXTERNAL_FILES_PATH:
            sent = request.headers.get("X-API-Key", "")
            bearer = request.headers.get("Authorization", "")
            if not sent and bearer[:7].lower() == "bearer ":
                sent = bearer[7:].strip()  # the OpenAI clients' header
            if not hmac.compare_digest(sent.encode(), self.api_key.encode()):
                if request.path.startswith(OAI_PREFIX):
                    return oai_error(401, "missing or wrong API key: send it as Authorization: Bearer <key>")
                return _error(401, "missing or wrong API key: send it in the X-API-Key header (TINKER_API_KEY)")
        return await handler(request)

    def app(self, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> web.Application:
        self.max_body_bytes = max_body_bytes
        app = web.Application(client_max_size=max_body_bytes, middlewares=[self._errors, self._auth])
        post, get = (
            lambda path, h: app.router.add_post(API + path, h),
            lambda path, h: app.router.add_get(API + path, h, allow_head=False),
        )
        post("/client/config", self.client_config)
        post("/client/dynamic_config", self.client_dynamic_config)
        post("/create_session", self.create_session)
        post("/session_heartbeat", self.session_heartbeat)
        post("/sessions/{session_id}/finish", self.finish_session)
        post("/telemetry", self.telemetry)
        post("/create_model", self.create_model)
        post("/get_info", self.get_info)
        post("/forward_backward", self.forward_backward)
        post("/optim_step", self.optim_step)
        post("/save_weights", self.save_weights)
        post("/load_weights", self.load_weights)
        post("/save_weights_for_sampler", self.save_weights_for_sampler)
        post("/create_sampling_session", self.create_sampling_session)
        post("/asample", self.asample)
        post("/retrieve_future", self.retrieve_future)
        post("/weights_info", self.weights_info)
        get("/healthz", self.healthz)
        get("/get_server_capabilities", self.get_server_capabilities)
        get("/samplers/{sampler_id}", self.get_sampler)
        get("/training_runs", self.list_training_runs)
        get("/training_runs/{run_id}", self.get_training_run)
        get("/training_runs/{run_id}/checkpoints", self.list_run_checkpoints)
        get("/checkpoints", self.list_checkpoints)
        post("/save_weights_external", self.save_weights_external)
        post("/retrieve_futures", self.retrieve_futures)
        post("/cancel_future", self.cancel_future)
        # A checkpoint id holds a slash ("weights/<name>").
        checkpoint = API + "/training_runs/{run_id}/checkpoints/{checkpoint_id:(?:weights|sampler_weights|external_weights)/[^/]+}"
        app.router.add_delete(checkpoint, self.delete_checkpoint)
        app.router.add_put(checkpoint + "/ttl", self.set_checkpoint_ttl)
        app.router.add_post(checkpoint + "/publish", self.publish_checkpoint)
        app.router.add_delete(checkpoint + "/publish", self.unpublish_checkpoint)
        app.router.add_get(checkpoint + "/external_weights_urls", self.external_weights_urls, allow_head=False)
        app.router.add_get(API + EXTERNAL_FILES_PATH, self.external_weights_file, allow_head=False)
        OpenAIEndpoints(self).add_routes(app)
        app.on_startup.append(self._on_startup)
        app.on_shutdown.append(lambda _app: self._on_shutdown())
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        task = asyncio.get_running_loop().create_task(self._expire_sessions(), name="session expiry")
        self._tasks.add(task)

    async def _on_shutdown(self) -> None:
        self.close()

    # -- session and config ---------------------------------------------------------------

    async def client_config(self, request: web.Request) -> web.Response:
        await self._json(request)
        return _reply(CLIENT_CONFIG)

    async def client_dynamic_config(self, request: web.Request) -> web.Response:
        await self._json(request)
        return _reply(CLIENT_DYNAMIC_CONFIG)

    async def create_session(self, request: web.Request) -> web.Response:
        await self._parse(request, types.CreateSessionRequest)
        session_id = str(uuid.uuid4())
        self.sessions[session_id] = _Session(session_id)
        return _reply(types.CreateSessionResponse(session_id=session_id))

    async def session_heartbeat(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.SessionHeartbeatRequest)
        session = self.sessions.get(req.session_id)
        if session is None:
            return _error(404, f"unknown session_id {req.session_id!r}")
        if session.finished:
            # 410 tells the SDK to stop its heartbeat loop.
            what = "expired (no heartbeat)" if session.expired else "finished"
            return _error(410, f"session {req.session_id!r} has {what}")
        self._seen(session)
        return _reply(types.SessionHeartbeatResponse())

    async def finish_session(self, request: web.Request) -> web.Response:
        await self._json(request)
        session_id = request.match_info["session_id"]
        session = self.sessions.get(session_id)
        if session is None:
            return _error(404, f"unknown session_id {session_id!r}")
        # Its models can take no more requests: free their memory (runs and checkpoints stay).
        await self._end_session(session, f"session {session_id!r} has finished")
        return _done()

    async def telemetry(self, request: web.Request) -> web.Response:
        await request.read()  # accepted and dropped: nothing leaves this machine
        return _reply(types.TelemetryResponse(status="accepted"))

    async def healthz(self, request: web.Request) -> web.Response:
        return _reply(types.HealthResponse(status="ok"))

    async def get_server_capabilities(self, request: web.Request) -> web.Response:
        models = await self._call(self.engine.supported_models)
        return _reply(types.GetServerCapabilitiesResponse(supported_models=models))

    # -- training models ------------------------------------------------------------------

    async def create_model(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.CreateModelRequest)
        self._require_session(req.session_id)
        if req.optimizer_config.type != "adamw":
            raise EngineError(f"optimizer {req.optimizer_config.type!r} is not supported (only adamw)")
        model_id = f"{req.session_id}:train:{req.model_seq_id}"
        if model_id in self.models:
            raise EngineError(f"model {model_id!r} already exists (model_seq_id reused)")
        self.models.add(model_id)

        def work() -> FutureOutcome:
            self.engine.create_model(model_id, req.base_model, req.lora_config, req.user_metadata)
            return FutureOutcome(result=types.CreateModelResponse(model_id=model_id))

        return self._start_future(
            "create_model", work, model_id=model_id, on_error=lambda: self.models.discard(model_id)
        )

    async def get_info(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.GetInfoRequest)
        self._require_model(req.model_id)
        info = await self._call(self.engine.model_info, req.model_id, key=_session_of(req.model_id))
        return _reply(info)

    async def forward_backward(self, request: web.Request) -> web.Response:
        encoding = request.headers.get("Content-Encoding", "identity").lower()
        if encoding not in ("", "identity"):
            raise WireError(f"forward_backward: Content-Encoding {encoding!r} is not supported")
        body = await request.read()
        try:
            call = decode_forward_backward_request(body)
        except WireError:
            ordering = peek_model_and_seq(body)
            if ordering is not None and ordering[0] in self.models:
                self._queue(ordering[0]).skip(ordering[1])
            raise
        self._require_model(call.model_id)

        def work() -> FutureOutcome:
            output = self.engine.forward_backward(
                call.model_id, call.data, call.loss_fn, call.loss_fn_config, call.forward_only
            )
            return FutureOutcome(proto=encode_forward_backward_output(output))

        return self._start_future(
            "forward" if call.forward_only else "forward_backward",
            work,
            model_id=call.model_id,
            seq_id=call.seq_id,
            ordered=True,
        )

    async def optim_step(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.OptimStepRequest)
        self._require_model(req.model_id)
        if not isinstance(req.optim_params, types.AdamParams):
            kind = type(req.optim_params).__name__
            raise EngineError(f"optimizer params {kind} are not supported (only AdamParams)")

        def work() -> FutureOutcome:
            metrics = self.engine.optim_step(req.model_id, req.optim_params) or {}
            return FutureOutcome(result=types.OptimStepResponse(metrics=_namespaced(metrics)))

        return self._start_future("optim_step", work, model_id=req.model_id, seq_id=req.seq_id, ordered=True)

    async def save_weights(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.SaveWeightsRequest)
        self._require_model(req.model_id)
        name = req.path or f"state-{req.seq_id if req.seq_id is not None else uuid.uuid4().hex[:8]}"

        def work() -> FutureOutcome:
            path = self.engine.save_state(req.model_id, name, req.ttl_seconds, req.user_metadata)
            return FutureOutcome(result=types.SaveWeightsResponse(path=path, type="save_weights"))

        return self._start_future("save_weights", work, model_id=req.model_id, seq_id=req.seq_id, ordered=True)

    async def load_weights(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.LoadWeightsRequest)
        if req.session_id is not None:
            return self._create_via_load(req)
        if req.model_id is None:
            raise WireError(
                "LoadWeightsRequest: set model_id (load into a model) or session_id and "
                "model_seq_id (create from a checkpoint)"
            )
        self._require_model(req.model_id)
        model_id = req.model_id

        def work() -> FutureOutcome:
            self.engine.load_state(model_id, req.path, req.optimizer)
            return FutureOutcome(result=_loaded(req.path, model_id))

        return self._start_future("load_weights", work, model_id=model_id, seq_id=req.seq_id, ordered=True)

    def _create_via_load(self, req: types.LoadWeightsRequest) -> web.Response:
        """`create_training_client_from_state[_with_optimizer]`: a new model shaped like the
        checkpoint's training run, then the checkpoint loaded into it."""
        assert req.session_id is not None
        self._require_session(req.session_id)
        if req.model_seq_id is None:
            raise WireError("LoadWeightsRequest: model_seq_id is required with session_id")
        if req.optimizer_config is not None and req.optimizer_config.type != "adamw":
            raise EngineError(f"optimizer {req.optimizer_config.type!r} is not supported (only adamw)")
        parse_tinker_path(req.path)
        model_id = f"{req.session_id}:train:{req.model_seq_id}"
        if model_id in self.models:
            raise EngineError(f"model {model_id!r} already exists (model_seq_id reused)")
        self.models.add(model_id)

        def work() -> FutureOutcome:
            self.engine.create_model_from_state(
                model_id, req.path, req.optimizer, base_model=req.base_model, user_metadata=req.user_metadata
            )
            return FutureOutcome(result=_loaded(req.path, model_id))

        return self._start_future(
            "load_weights", work, model_id=model_id, on_error=lambda: self.models.discard(model_id)
        )

    async def weights_info(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        path = body.get("tinker_path") if isinstance(body, dict) else None
        if not isinstance(path, str):
            raise WireError("weights_info: tinker_path is required")
        run = await self._call(self.engine.get_training_run, parse_tinker_path(path).training_run_id)
        return _reply(types.WeightsInfoResponse(base_model=run.base_model, is_lora=run.is_lora, lora_rank=run.lora_rank))

    async def save_weights_external(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.SaveWeightsExternalRequest)
        self._require_model(req.model_id)
        if req.age_encryption_recipients:
            raise EngineError("save_weights_external: age encryption is not supported by the local engine")

        def work() -> FutureOutcome:
            path, size = self.engine.save_external(req.model_id, req.path, req.ttl_seconds)
            return FutureOutcome(
                result=types.SaveWeightsExternalResponseInternal(path=path, size_bytes=size, type="save_weights_external")
            )

        return self._start_future(
            "save_weights_external", work, model_id=req.model_id, seq_id=req.seq_id, ordered=True
        )

    # -- sampling -------------------------------------------------------------------------

    async def save_weights_for_sampler(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.SaveWeightsForSamplerRequest)
        self._require_model(req.model_id)
        if req.path is None and req.sampling_session_seq_id is None:
            raise WireError("SaveWeightsForSamplerRequest: set path or sampling_session_seq_id")
        model_id = req.model_id

        def work() -> FutureOutcome:
            if req.path is not None:
                path = self.engine.save_sampler_weights(model_id, req.path, req.ttl_seconds, req.user_metadata)
                return FutureOutcome(result=_saved_for_sampler(path=path))
            # save_weights_and_get_sampling_client: an unnamed snapshot behind a new sampler.
            sampler_id = f"{_session_of(model_id)}:sample:{req.sampling_session_seq_id}"
            path = self.engine.save_sampler_weights(model_id, None)
            self.engine.create_sampler(sampler_id, model_path=path)
            self.samplers.add(sampler_id)
            return FutureOutcome(result=_saved_for_sampler(sampling_session_id=sampler_id))

        return self._start_future(
            "save_weights_for_sampler", work, model_id=model_id, seq_id=req.seq_id, ordered=True
        )

    async def create_sampling_session(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.CreateSamplingSessionRequest)
        self._require_session(req.session_id)
        if req.model_path is None and req.base_model is None:
            raise WireError("CreateSamplingSessionRequest: set base_model or model_path")
        sampler_id = f"{req.session_id}:sample:{req.sampling_session_seq_id}"
        if sampler_id in self.samplers:
            raise EngineError(f"sampler {sampler_id!r} already exists (sampling_session_seq_id reused)")

        await self._call(
            self.engine.create_sampler,
            sampler_id,
            base_model=req.base_model,
            model_path=req.model_path,
            key=req.session_id,
        )
        self.samplers.add(sampler_id)
        return _reply(types.CreateSamplingSessionResponse(sampling_session_id=sampler_id))

    async def get_sampler(self, request: web.Request) -> web.Response:
        return _reply(await self._call(self.engine.sampler_info, request.match_info["sampler_id"]))

    async def asample(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.SampleRequest)
        if req.sampling_session_id is None:
            raise WireError("SampleRequest: sampling_session_id is required (create a sampling client first)")
        if req.sampling_session_id not in self.samplers:
            raise EngineError(f"unknown sampling_session_id {req.sampling_session_id!r}", "not_found")
        if not 1 <= req.num_samples <= MAX_NUM_SAMPLES:
            # Every sample is a row of the decode batch: an unbounded count exhausts memory.
            raise WireError(
                f"SampleRequest: num_samples must be between 1 and {MAX_NUM_SAMPLES}, got {req.num_samples}"
            )
        key = _session_of_any(req.sampling_session_id)
        self._touch(key)
        # The SDK numbers a cloned sampling client's requests from clone * 10**9.
        clone = (req.seq_id or 0) // 1_000_000_000
        future = self.futures.create("sample", session=key, target=(req.sampling_session_id, clone))
        loop = asyncio.get_running_loop()

        def on_done(result: types.SampleResponse | BaseException) -> None:  # on the engine thread
            if isinstance(result, BaseException):
                if not isinstance(result, EngineError):
                    logger.error("sample %s failed: %r", future.request_id, result)
                message = result.message if isinstance(result, EngineError) else f"{type(result).__name__}: {result}"
                outcome = FutureOutcome(error=message, category=_future_category(result))
            else:
                try:
                    outcome = FutureOutcome(proto=encode_sample_response(result))
                except Exception as exc:
                    outcome = FutureOutcome(error=f"{type(exc).__name__}: {exc}", category="server")
            try:
                loop.call_soon_threadsafe(self.futures.finish, future, outcome)
            except RuntimeError:  # the loop closed
                pass

        job = SampleJob(
            sampler_id=req.sampling_session_id,
            request=req,
            on_done=on_done,
            session_id=key,
            is_cancelled=future.is_cancelled,
        )
        self.scheduler.sample(key, job)
        # The SDK stamps these ids onto the returned sequences (one per sample, in order).
        sequence_ids = [f"{future.request_id}:{i}" for i in range(req.num_samples)]
        return _reply(types.UntypedAPIFuture(request_id=future.request_id, sample_sequence_ids=sequence_ids))

    # -- futures --------------------------------------------------------------------------

    async def retrieve_future(self, request: web.Request) -> web.Response:
        req = await self._parse(request, types.FutureRetrieveRequest)
        future = self.futures.get(req.request_id)
        if future is None:
            return _error(404, f"unknown request_id {req.request_id!r}")
        self._touch(future.session)
        transport = request.transport
        future.watchers += 1
        try:
            outcome = await self.futures.wait(
                future, self.hold_seconds, gone=lambda: transport is None or transport.is_closing()
            )
        finally:
            future.watchers -= 1
        if outcome is None and (transport is None or transport.is_closing()):
            self._hung_up(future)
            return _error(499, "the client closed the connection")
        if outcome is None:
            return _reply(TryAgainResponse(request_id=req.request_id, queue_state="active"))
        if outcome.error is not None:
            category = types.RequestErrorCategory(outcome.category)
            return _reply(types.RequestFailedResponse(error=outcome.error, category=category))
        if outcome.proto is not None:
            return web.Response(body=outcome.proto, content_type=PROTOBUF_CONTENT_TYPE)
        assert outcome.result is not None, f"{future.kind} {future.request_id} finished with no result"
        return _reply(outcome.result)

    async def retrieve_futures(self, request: web.Request) -> web.Response:
        """One long poll for a sampling session's finished requests (sample_use_retrieve_futures)."""
        req = await self._parse(request, types.FuturesRetrieveRequest)
        target = (req.target.sampling_session_id, req.target.cloned_sampler_id)
        self._touch(_session_of_any(target[0]))
        log = self.futures.log(target)
        log.trim(req.prev_cursor)
        for request_id in req.retrieved_request_ids:
            self.futures.delivered(request_id)
        hold = self.hold_seconds if req.timeout is None else max(0.0, min(req.timeout, self.hold_seconds))
        transport = request.transport
        deadline = time.monotonic() + hold
        log.watchers += 1
        try:
            while not log.events and time.monotonic() < deadline:
                if transport is None or transport.is_closing():
                    break
                changed = log.changed
                try:
                    await asyncio.wait_for(changed.wait(), timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                except TimeoutError:
                    pass
        finally:
            log.watchers -= 1
        if transport is None or transport.is_closing():
            self._poller_hung_up(target)
            return _error(499, "the client closed the connection")
        completions: list[Any] = [
            types.FutureFinished(request_id=rid, response_payload_uncompressed_size=size or None)
            if ok
            else types.FutureFailed(request_id=rid)
            for _, rid, ok, size in log.events
        ]
        return _reply(types.FuturesRetrieveResponse(completions=completions, cursor=max(log.cursor, req.prev_cursor)))

    def _poller_hung_up(self, target: tuple[str, int]) -> None:
        log = self.futures.log(target)

        def check() -> None:
            if log.watchers == 0:
                for future in self.futures.unfinished_of_target(target):
                    self.futures.cancel(future, f"request {future.request_id} cancelled: the client hung up")

        if log.watchers == 0:
            asyncio.get_running_loop().call_later(self.hangup_grace_seconds, check)

    async def cancel_future(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if not isinstance(request_id, str):
            raise WireError("cancel_future: request_id is required")
        future = self.futures.get(request_id)
        if future is None:
            return _error(404, f"unknown request_id {request_id!r}")
        self.futures.cancel(future, f"request {request_id} was cancelled by the client")
        return _done()

    # -- checkpoint management ------------------------------------------------------------

    def _checkpoint_path(self, request: web.Request) -> str:
        path = f"tinker://{request.match_info['run_id']}/{request.match_info['checkpoint_id']}"
        parse_tinker_path(path)
        return path

    async def set_checkpoint_ttl(self, request: web.Request) -> web.Response:
        path = self._checkpoint_path(request)
        body = await self._json(request)
        if not isinstance(body, dict) or "ttl_seconds" not in body:
            raise WireError("set ttl: body must be {\"ttl_seconds\": <seconds> or null}")
        await self._call(self.engine.set_checkpoint_ttl, path, body["ttl_seconds"])
        return _done()

    async def publish_checkpoint(self, request: web.Request) -> web.Response:
        await self._call(self.engine.set_checkpoint_public, self._checkpoint_path(request), True)
        return _done()

    async def unpublish_checkpoint(self, request: web.Request) -> web.Response:
        await self._call(self.engine.set_checkpoint_public, self._checkpoint_path(request), False)
        return _done()

    def _signature(self, path: str, name: str, expires: int) -> str:
        message = f"{path}\n{name}\n{expires}".encode()
        return hmac.new(self._url_secret, message, "sha256").hexdigest()

    async def external_weights_urls(self, request: web.Request) -> web.Response:
        path = self._checkpoint_path(request)
        if parse_tinker_path(path).checkpoint_type != "external":
            raise EngineError(f"{path} is not an external weights checkpoint (save_weights_external)")
        _folder, files = await self._call(self.engine.checkpoint_files, path)
        expires = datetime.now(UTC) + timedelta(seconds=EXTERNAL_URL_SECONDS)
        stamp = int(expires.timestamp())
        base = f"{request.scheme}://{request.host}{API}{EXTERNAL_FILES_PATH}"
        urls = {
            name: base
            + "?"
            + urllib.parse.urlencode(
                {"path": path, "file": name, "expires": stamp, "sig": self._signature(path, name, stamp)}
            )
            for name in files
        }
        return _reply(types.ExternalWeightsUrlsResponse(urls=urls, expires=expires))

    async def external_weights_file(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        path, name, sig = query.get("path", ""), query.get("file", ""), query.get("sig", "")
        try:
            stamp = int(query.get("expires", ""))
        except ValueError:
            return _error(403, "download link is malformed")
        if not hmac.compare_digest(sig, self._signature(path, name, stamp)):
            return _error(403, "download link signature does not match")
        if stamp < time.time():
            return _error(403, "download link expired: ask for new ones (external_weights_urls)")
        folder, files = await self._call(self.engine.checkpoint_files, path)
        if name not in files:
            return _error(404, f"{path} has no file {name!r}")
        return web.FileResponse(folder / name)

    # -- REST reads -----------------------------------------------------------------------

    async def list_training_runs(self, request: web.Request) -> web.Response:
        limit, offset = _page(request, default_limit=20)
        runs = await self._call(self.engine.list_training_runs)
        return _reply(types.TrainingRunsResponse(training_runs=runs[offset : offset + limit], cursor=_cursor(offset, limit, runs)))

    async def get_training_run(self, request: web.Request) -> web.Response:
        return _reply(await self._call(self.engine.get_training_run, request.match_info["run_id"]))

    async def list_run_checkpoints(self, request: web.Request) -> web.Response:
        checkpoints = await self._call(self.engine.list_checkpoints, request.match_info["run_id"])
        return _reply(types.CheckpointsListResponse(checkpoints=checkpoints))

    async def list_checkpoints(self, request: web.Request) -> web.Response:
        limit, offset = _page(request, default_limit=100)

        def every_checkpoint() -> list[types.Checkpoint]:
            found = []
            for run in self.engine.list_training_runs():
                found.extend(self.engine.list_checkpoints(run.training_run_id))
            return sorted(found, key=lambda c: c.time, reverse=True)

        checkpoints = await self._call(every_checkpoint)
        return _reply(
            types.CheckpointsListResponse(
                checkpoints=checkpoints[offset : offset + limit], cursor=_cursor(offset, limit, checkpoints)
            )
        )

    async def delete_checkpoint(self, request: web.Request) -> web.Response:
        path = self._checkpoint_path(request)
        await self._call(self.engine.delete_checkpoint, path)
        return _done()


def _loaded(path: str, model_id: str) -> types.LoadWeightsResponse:
    return types.LoadWeightsResponse(path=path, model_id=model_id, type="load_weights")


def _saved_for_sampler(**fields: str) -> types.SaveWeightsForSamplerResponseInternal:
    """What save_weights_for_sampler answers: the checkpoint's `path`, or the
    `sampling_session_id` of the sampler made from an unnamed snapshot."""
    return types.SaveWeightsForSamplerResponseInternal(type="save_weights_for_sampler", **fields)


def _cursor(offset: int, limit: int, everything: list[Any]) -> types.Cursor:
    return types.Cursor(offset=offset, limit=limit, total_count=len(everything))


def _page(request: web.Request, default_limit: int) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", default_limit))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise WireError(f"{request.path}: limit and offset must be integers") from None
    if limit < 0 or offset < 0:
        raise WireError(f"{request.path}: limit and offset must be >= 0")
    return limit, offset
