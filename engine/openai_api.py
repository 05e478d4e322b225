"""OpenAI-compatible endpoints over the engine, where Tinker serves its own:
`<base>/oai/api/v1/chat/completions`, `<base>/oai/api/v1/completions` and `<base>/oai/api/v1/models`.

`model` is a base model name (`cookbook-tui/tiny-chat`) or a sampler checkpoint path
(`tinker://<run>/sampler_weights/<name>`). Chat messages are rendered with the model's own chat
template (its tokenizer's `apply_chat_template`). Supported: `max_tokens` (or
`max_completion_tokens`), `temperature`, `top_p`, `stop`, `n`, `seed`, `stream` (server-sent
events). The key rule is the server's: `Authorization: Bearer <key>` (or `X-API-Key`).

Requests go through the same fair scheduler as tinker clients (queue key `oai`), as sample jobs,
so they batch with other sampling. Streaming sends the reply as per-token deltas once the sample
is done: the engine's `sample_batch` contract answers whole samples.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from tinker import types

from .errors import EngineError
from .sample_jobs import SampleJob

if TYPE_CHECKING:
    from .server import EngineServer

logger = logging.getLogger(__name__)

OAI_PREFIX = "/oai/api/v1"
QUEUE_KEY = "oai"
DEFAULT_MAX_TOKENS = 256
MAX_N = 64


def oai_error(status: int, message: str, *, param: str | None = None, kind: str | None = None) -> web.Response:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
    body = {"error": {"message": message, "type": kind or kinds.get(status, "server_error"), "param": param, "code": None}}
    return web.json_response(body, status=status)


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status


@dataclass
class _Prepared:
    sampler_id: str
    prompt_tokens: list[int]
    tokenizer: Any


class OpenAIEndpoints:
    """Handlers bound to an `EngineServer` (its engine, scheduler and key rule)."""

    def __init__(self, server: EngineServer) -> None:
        self.server = server
        self.engine = server.engine
        self._samplers: dict[tuple[str, str], str] = {}  # (model, version) -> engine sampler id
        self._counter = 0

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(OAI_PREFIX + "/chat/completions", self.chat_completions)
        app.router.add_post(OAI_PREFIX + "/completions", self.completions)
        app.router.add_get(OAI_PREFIX + "/models", self.models, allow_head=False)

    # -- handlers ---------------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        supported = await self.server._call(self.engine.supported_models, key=QUEUE_KEY)
        names = [m.model_name for m in supported]
        return web.json_response(
            {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "local"} for n in names]}
        )

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, chat=True)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, chat=False)

    async def _handle(self, request: web.Request, *, chat: bool) -> web.StreamResponse:
        try:
            body = await self._body(request)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise _BadRequest("model is required: a base model name or a tinker://…/sampler_weights/… path", "model")
            params, n = _sampling_params(body)
            if chat:
                messages = body.get("messages")
                if not isinstance(messages, list) or not messages or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
                ):
                    raise _BadRequest("messages must be a non-empty list of {role, content} objects", "messages")
                source: Any = [{"role": m["role"], "content": _text_content(m.get("content"))} for m in messages]
            else:
                prompt = body.get("prompt")
                if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
                    prompt = prompt[0]
                if not isinstance(prompt, str) and not (
                    isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt)
                ):
                    raise _BadRequest("prompt must be a string or a list of token ids", "prompt")
                source = prompt
            prepared = await self.server._call(self._prepare, model, source, chat, key=QUEUE_KEY)
            response, cancelled = await self._sample(request, prepared, n, params)
        except _BadRequest as exc:
            return oai_error(exc.status, exc.message, param=exc.param)
        except EngineError as exc:
            status = 404 if exc.category == "not_found" else 500 if exc.category == "server" else 400
            return oai_error(status, exc.message)
        if cancelled:
            return web.Response(status=499)
        choices = [_choice(seq, prepared.tokenizer, params.stop) for seq in response.sequences]
        completion_tokens = sum(len(seq.tokens) for seq in response.sequences)
        usage = {
            "prompt_tokens": len(prepared.prompt_tokens),
            "completion_tokens": completion_tokens,
            "total_tokens": len(prepared.prompt_tokens) + completion_tokens,
        }
        created = int(time.time())
        reply_id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        if body.get("stream"):
            return await self._stream(request, reply_id, created, model, choices, usage, chat, body)
        if chat:
            out_choices = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reason,
                    "logprobs": None,
                }
                for i, (text, reason, _) in enumerate(choices)
            ]
            obj = "chat.completion"
        else:
            out_choices = [
                {"index": i, "text": text, "finish_reason": reason, "logprobs": None}
                for i, (text, reason, _) in enumerate(choices)
            ]
            obj = "text_completion"
        return web.json_response(
            {"id": reply_id, "object": obj, "created": created, "model": model, "choices": out_choices, "usage": usage}
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise _BadRequest(f"the body is not valid JSON ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise _BadRequest("the body must be a JSON object")
        return body

    # -- on the engine thread ----------------------------------------------------------------

    def _prepare(self, model: str, source: Any, chat: bool) -> _Prepared:
        sampler_id = self._sampler_for(model)
        base = self.engine.bases.get(self.engine.sampler_info(sampler_id).base_model)
        tokenizer = base.tokenizer
        if chat:
            if not getattr(tokenizer, "chat_template", None):
                raise _BadRequest(f"{base.name} has no chat template: use /completions with a prompt", "model")
            tokens = tokenizer.apply_chat_template(source, add_generation_prompt=True, tokenize=True)
            if isinstance(tokens, dict) or hasattr(tokens, "input_ids"):
                tokens = tokens["input_ids"]
        elif isinstance(source, str):
            tokens = tokenizer.encode(source, add_special_tokens=False)
        else:
            tokens = source
        tokens = [int(t) for t in tokens]
        if not tokens:
            raise _BadRequest("the prompt is empty", "prompt")
        return _Prepared(sampler_id, tokens, tokenizer)

    def _sampler_for(self, model: str) -> str:
        if model.startswith("tinker://"):
            meta = self.engine.store.read_checkpoint_meta(model)  # not found / expired: 404
            version = str(meta.get("created_at"))
            if "/sampler_weights/" not in model and "/weights/" not in model:
                raise _BadRequest(f"{model} is not a sampler checkpoint (tinker://…/sampler_weights/…)", "model")
            spec = {"model_path": model}
        else:
            version, spec = "", {"base_model": model}
        key = (model, version)
        sampler_id = self._samplers.get(key)
        if sampler_id is None:
            self._counter += 1
            sampler_id = f"{QUEUE_KEY}:sample:{self._counter}"
            self.engine.create_sampler(sampler_id, **spec)
            self._samplers[key] = sampler_id
        return sampler_id

    # -- sampling ------------------------------------------------------------------------------

    async def _sample(
        self, request: web.Request, prepared: _Prepared, n: int, params: types.SamplingParams
    ) -> tuple[types.SampleResponse, bool]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        gone = False

        def on_done(result: Any) -> None:
            def settle() -> None:
                if not answer.done():
                    answer.set_result(result)

            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:
                pass

        job = SampleJob(
            sampler_id=prepared.sampler_id,
            request=types.SampleRequest(
                sampling_session_id=prepared.sampler_id,
                prompt=types.ModelInput.from_ints(prepared.prompt_tokens),
                num_samples=n,
                sampling_params=params,
            ),
            on_done=on_done,
            session_id=QUEUE_KEY,
            is_cancelled=lambda: gone,
        )
        self.server.scheduler.sample(QUEUE_KEY, job)
        transport = request.transport
        while True:
            try:
                result = await asyncio.wait_for(asyncio.shield(answer), timeout=0.5)
                break
            except TimeoutError:
                if transport is None or transport.is_closing():
                    gone = True  # the client hung up: the sampler drops the job
                    return types.SampleResponse(sequences=[]), True
        if isinstance(result, BaseException):
            if isinstance(result, EngineError):
                raise result
            raise EngineError(f"{type(result).__name__}: {result}", "server")
        return result, False

    async def _stream(
        self,
        request: web.Request,
        reply_id: str,
        created: int,
        model: str,
        choices: list[tuple[str, str, list[str]]],
        usage: dict[str, int],
        chat: bool,
        body: dict[str, Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        obj = "chat.completion.chunk" if chat else "text_completion"

        async def send(choice: dict[str, Any] | None, extra: dict[str, Any] | None = None) -> None:
            chunk = {"id": reply_id, "object": obj, "created": created, "model": model,
                     "choices": [choice] if choice is not None else []}
            chunk.update(extra or {})
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        for index, (_text, reason, pieces) in enumerate(choices):
            if chat:
                await send({"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None})
            for piece in pieces:
                if chat:
                    await send({"index": index, "delta": {"content": piece}, "finish_reason": None})
                else:
                    await send({"index": index, "text": piece, "finish_reason": None, "logprobs": None})
            if chat:
                await send({"index": index, "delta": {}, "finish_reason": reason})
            else:
                await send({"index": index, "text": "", "finish_reason": reason, "logprobs": None})
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await send(None, {"usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _text_content(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise _BadRequest("only text content parts are supported by the local engine", "messages")
        return "".join(parts)
    raise _BadRequest("message content must be a string or a list of text parts", "messages")


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _BadRequest(f"{name} must be a number in [{low}, {high}], got {value!r}", name)
    return float(value)


def _sampling_params(body: dict[str, Any]) -> tuple[types.SamplingParams, int]:
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _BadRequest(f"max_tokens must be a positive integer, got {max_tokens!r}", "max_tokens")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise _BadRequest(f"n must be an integer in [1, {MAX_N}], got {n!r}", "n")
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise _BadRequest("stop must be a string or a list of strings", "stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _BadRequest(f"seed must be an integer, got {seed!r}", "seed")
    params = types.SamplingParams(
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        stop=[s for s in stop if s] if stop else None,
        seed=seed,
    )
    return params, n


def _choice(seq: types.SampledSequence, tokenizer: Any, stop: Any) -> tuple[str, str, list[str]]:
    """(text, finish_reason, per-token pieces) for one sampled sequence, the stop sequence cut."""
    tokens = list(seq.tokens)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    while tokens and tokens[-1] in special:
        tokens.pop()  # the end-of-turn token the sampler stopped on
    text = tokenizer.decode(tokens, skip_special_tokens=True)
    reason = "stop" if seq.stop_reason == "stop" else "length"
    for s in stop or []:
        cut = text.find(s)
        if cut != -1:
            text, reason = text[:cut], "stop"
    pieces: list[str] = []
    decoded = ""
    for i in range(1, len(tokens) + 1):  # decode prefixes: a piece never splits a character
        now = tokenizer.decode(tokens[:i], skip_special_tokens=True)
        if len(now) > len(decoded) and not now.endswith("\ufffd"):
            pieces.append(now[len(decoded):])
            decoded = now
        if len(decoded) >= len(text):
            break
    streamed = "".join(pieces)
    if streamed != text:  # the cut fell inside a piece, or decoding is not prefix-stable
        pieces = [text] if text else []
    return text, reason, pieces
