"""Continuous batched sampling with a KV cache, and prompt logprobs, as Tinker's sampler returns them.

Each request (a `SampleTask`) is prefilled once (the requests that join at one step boundary in
one left-padded forward); its cache is repeated for its `num_samples` rows, which join a
`DecodeBatch` of every other request on the same base model, one forward per new token for all
of them. Rows are left-padded to a common cache length (attention mask, explicit positions) in a
KV cache with room to grow (no per-step copy); a request joins at a step boundary, a row leaves
when it stops and a request when all its rows have. Rows of one forward may use different LoRA
adapters of the base (peft mixed-adapter batches) where the model allows it. Every request keeps
its own sampling params and its own seeded generator, which only its rows draw from (one uniform
per row and step, inverted through that row's CDF), so a seeded request gives the same tokens
whatever it is batched with. Semantics follow tinker 0.38's SamplingParams:
- `temperature` 0 is greedy; `top_k` -1 and `top_p` 1 mean no truncation; `seed` fixes the draw.
- `stop`: None stops at EOS; [] never stops early; token ids or strings stop there (and at EOS).
  The tokens that complete a stop sequence are kept in the output, as renderers expect to find
  the end-of-turn token in a response. Stop strings are matched on the decoded text.
- The logprob of each sampled token is taken under the temperature-scaled distribution the token
  was drawn from (before top-k/top-p truncation); for greedy decoding it is the model's own.
- Prompt logprobs are the model's untempered logprobs, NaN at position 0 (no context there), so
  they equal a forward pass's logprobs of the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tinker import types
from tinker.types._pydantic_types.tensor_data import TensorData as WireTensorData  # a request's (as tinker's client)
from tinker.types.stop_reason import StopReason
from tinker.types.topk_logprobs import MASK_LOGPROB, TopkLogprobs

from .errors import EngineError


@dataclass
class StopRules:
    token_ids: frozenset[int]
    strings: tuple[str, ...]

    @classmethod
    def from_params(cls, stop: object, eos_ids: Sequence[int]) -> StopRules:
        if stop is None:
            return cls(frozenset(eos_ids), ())
        if isinstance(stop, str):
            stop = [stop]
        wrong = "sampling_params.stop must be a string, a list of strings or a list of token ids"
        if not isinstance(stop, Iterable):
            raise EngineError(wrong)
        items = list(stop)
        if not items:
            return cls(frozenset(), ())
        strings = [s for s in items if isinstance(s, str)]
        if len(strings) == len(items):
            return cls(frozenset(eos_ids), tuple(s for s in strings if s))
        ids = [s for s in items if isinstance(s, int) and not isinstance(s, bool)]
        if len(ids) == len(items):
            return cls(frozenset(eos_ids) | frozenset(ids), ())
        raise EngineError(wrong)


@dataclass
class Completion:
    tokens: list[int]
    logprobs: list[float]
    stop_reason: StopReason


def check_sampling_params(params: types.SamplingParams) -> None:
    if params.temperature < 0:
        raise EngineError(f"sampling_params.temperature must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise EngineError(f"sampling_params.top_p must be in (0, 1], got {params.top_p}")
    if params.top_k == 0 or params.top_k < -1:
        raise EngineError(f"sampling_params.top_k must be -1 (off) or >= 1, got {params.top_k}")
    if params.seed is not None and not -(2**63) <= params.seed < 2**64:
        raise EngineError(f"sampling_params.seed must fit in 64 bits, got {params.seed}")
    if params.max_tokens is not None and params.max_tokens < 1:
        raise EngineError(f"sampling_params.max_tokens must be >= 1, got {params.max_tokens}")


def _stop_string_hit(tokenizer, tokens: list[int], strings: tuple[str, ...], window: int) -> bool:
    tail = tokenizer.decode(tokens[-window:], skip_special_tokens=False)
    return any(s in tail for s in strings)


def prompt_logprobs_from_logits(
    logits: torch.Tensor, prompt: list[int], last_n: int | None, topk: int
) -> tuple[np.ndarray, TopkLogprobs | None]:
    """logits: [n, V] for the prompt. Position i is scored by the logits at i-1."""
    n = len(prompt)
    scored_from = 1 if last_n is None else max(1, n - last_n)
    logp = torch.log_softmax(logits[:-1].float(), dim=-1)  # predicts positions 1..n-1
    targets = torch.tensor(prompt[1:], device=logits.device)[:, None]
    values = np.full(n, np.nan, dtype=np.float32)
    if n > 1:
        values[1:] = logp.gather(-1, targets).squeeze(-1).cpu().numpy()
        values[1:scored_from] = np.nan
    topk_result = None
    if topk > 0:
        k = min(topk, logits.shape[-1])
        ids = np.zeros((n, k), dtype=np.int32)
        lps = np.full((n, k), MASK_LOGPROB, dtype=np.float32)
        if n > 1:
            top = torch.topk(logp, k, dim=-1)
            ids[1:] = top.indices.cpu().numpy().astype(np.int32)
            lps[1:] = top.values.cpu().numpy()
            ids[1:scored_from] = 0
            lps[1:scored_from] = MASK_LOGPROB
        topk_result = TopkLogprobs(token_ids=ids, logprobs=lps)
    return values, topk_result




def _sparse_or_dense(values: np.ndarray, like: WireTensorData) -> types.TensorData:
    """A float32 TensorData of `values` in the layout (dense or sparse CSR) of `like`."""
    crow_indices, col_indices = like.sparse_crow_indices, like.sparse_col_indices
    if crow_indices is None or col_indices is None:
        return types.TensorData.from_numpy(values.astype(np.float32))
    crow = np.asarray(crow_indices, dtype=np.int64)
    col = np.asarray(col_indices, dtype=np.int64)
    rows = np.repeat(np.arange(len(crow) - 1), np.diff(crow))
    return types.TensorData(
        data=values[rows, col].astype(np.float32),
        dtype="float32",
        shape=list(values.shape),
        sparse_crow_indices=list(crow_indices),
        sparse_col_indices=list(col_indices),
    )


@dataclass
class SampleTask:
    """One sample request as the decoder runs it; `finish` answers it (a response or an error)."""

    prompt: list[int]
    num_samples: int
    params: types.SamplingParams
    rules: StopRules
    max_tokens: int
    generator: torch.Generator
    adapter: str | None  # the peft adapter its rows use on the shared base (None: the base)
    finish: Callable[[Any], None]
    cancelled: Callable[[], bool]
    prompt_logprobs: bool = False
    topk_prompt_logprobs: int = 0
    prompt_logprobs_last_n: int | None = None
    topk_sample_logprobs: int = 0
    target_prompt_logprobs: WireTensorData | None = None
    prompt_alt_tokens_k: int = 0
    # Filled while it runs:
    tokens: list[list[int]] = field(default_factory=list)
    logprobs: list[list[float]] = field(default_factory=list)
    topk: list[list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)
    reasons: list[StopReason | None] = field(default_factory=list)
    steps: int = 0
    prompt_outputs: dict[str, Any] = field(default_factory=dict)
    live: list[int] = field(default_factory=list)  # its rows still decoding, in batch order

    def __post_init__(self) -> None:
        n = self.num_samples
        self.live = list(range(n))
        self.tokens = [[] for _ in range(n)]
        self.logprobs = [[] for _ in range(n)]
        self.topk = [[] for _ in range(n)]
        self.reasons = [None] * n

    @property
    def window(self) -> int:
        return 4 * max((len(s) for s in self.rules.strings), default=0) + 2

    def completions(self) -> list[Completion]:
        return [
            Completion(tokens=t, logprobs=lp, stop_reason=r or "length")
            for t, lp, r in zip(self.tokens, self.logprobs, self.reasons, strict=True)
        ]

    def topk_sample(self, row: int) -> TopkLogprobs | None:
        if self.topk_sample_logprobs <= 0:
            return None
        ids = np.stack([i for i, _ in self.topk[row]]).astype(np.int32)
        lps = np.stack([v for _, v in self.topk[row]]).astype(np.float32)
        return TopkLogprobs(token_ids=ids, logprobs=lps)


def make_task(
    request: types.SampleRequest,
    eos_ids: Sequence[int],
    context_length: int,
    vocab_size: int,
    generator: torch.Generator,
    adapter: str | None,
    finish: Callable[[Any], None],
    cancelled: Callable[[], bool],
) -> SampleTask:
    """Check a request against the model (errors name the field) and make its task."""
    params = request.sampling_params
    check_sampling_params(params)
    prompt = _prompt_of(request)
    if request.num_samples < 1:
        raise EngineError(f"num_samples must be >= 1, got {request.num_samples}")
    _check_prompt_options(request, len(prompt), vocab_size)
    max_tokens = _max_tokens(params, len(prompt), context_length)
    return SampleTask(
        prompt=prompt,
        num_samples=request.num_samples,
        params=params,
        rules=StopRules.from_params(params.stop, eos_ids),
        max_tokens=max_tokens,
        generator=generator,
        adapter=adapter,
        finish=finish,
        cancelled=cancelled,
        prompt_logprobs=bool(request.prompt_logprobs),
        topk_prompt_logprobs=request.topk_prompt_logprobs,
        prompt_logprobs_last_n=request.prompt_logprobs_last_n,
        topk_sample_logprobs=request.topk_sample_logprobs,
        target_prompt_logprobs=request.target_prompt_logprobs,
        prompt_alt_tokens_k=request.prompt_alt_tokens_k,
    )


def _prompt_of(request: types.SampleRequest) -> list[int]:
    try:
        prompt = request.prompt.to_ints()
    except ValueError as exc:
        raise EngineError("the local engine samples from token chunks only (no images)") from exc
    if not prompt:
        raise EngineError("the prompt is empty")
    return prompt


def _check_prompt_options(request: types.SampleRequest, n: int, vocab_size: int) -> None:
    """What a request asks about its prompt (and top-k sizes) fits a prompt of `n` tokens."""
    last_n = request.prompt_logprobs_last_n
    if last_n is not None and not 1 <= last_n <= n - 1:
        raise EngineError(
            f"prompt_logprobs_last_n must be between 1 and len(prompt) - 1 = {n - 1}, got {last_n}"
        )
    for name, value in (
        ("topk_prompt_logprobs", request.topk_prompt_logprobs),
        ("topk_sample_logprobs", request.topk_sample_logprobs),
        ("prompt_alt_tokens_k", request.prompt_alt_tokens_k),
    ):
        if not 0 <= value <= vocab_size:
            raise EngineError(f"{name} must be between 0 and the vocabulary size {vocab_size}, got {value}")
    if request.target_prompt_logprobs is not None:
        _check_target_prompt_logprobs(request.target_prompt_logprobs, n, vocab_size)


def _check_target_prompt_logprobs(target: WireTensorData, n: int, vocab_size: int) -> None:
    if target.dtype != "int64" or not target.shape or len(target.shape) != 2:
        raise EngineError("target_prompt_logprobs must be an int64 tensor of shape [len(prompt) - 1, K]")
    if target.shape[0] != n - 1:
        raise EngineError(
            f"target_prompt_logprobs has {target.shape[0]} rows; the prompt needs "
            f"len(prompt) - 1 = {n - 1}"
        )
    ids = target.to_numpy(pad_value=-1)
    if ids.size and (ids.max() >= vocab_size or ids.min() < -1):
        raise EngineError(
            f"target_prompt_logprobs holds token ids outside [0, {vocab_size}) (or -1 for none)"
        )


def _max_tokens(params: types.SamplingParams, n: int, context_length: int) -> int:
    """`max_tokens`, or what is left of the context after a prompt of `n` tokens."""
    room = context_length - n
    max_tokens = params.max_tokens if params.max_tokens is not None else room
    if max_tokens > room:
        raise EngineError(
            f"prompt ({n} tokens) + max_tokens ({max_tokens}) exceeds the model's "
            f"context length {context_length}"
        )
    return max_tokens


def _prompt_outputs(task: SampleTask, logits: torch.Tensor) -> dict[str, Any]:
    """Everything a request asks about its prompt, from the prefill's logits [n, V]."""
    out: dict[str, Any] = {}
    prompt = task.prompt
    if task.prompt_logprobs or task.topk_prompt_logprobs > 0:
        values, topk = prompt_logprobs_from_logits(
            logits, prompt, task.prompt_logprobs_last_n, task.topk_prompt_logprobs
        )
        out["prompt_logprobs_np"] = values if task.prompt_logprobs else None
        out["topk_prompt_logprobs_np"] = topk
    if task.target_prompt_logprobs is not None or task.prompt_alt_tokens_k > 0:
        logp = torch.log_softmax(logits[:-1].float(), dim=-1)  # row i scores prompt position i + 1
        if task.target_prompt_logprobs is not None:
            ids = torch.as_tensor(task.target_prompt_logprobs.to_numpy(pad_value=-1), device=logp.device)
            target_lps = logp.gather(-1, ids.clamp(min=0)).masked_fill(ids < 0, 0.0)
            out["target_prompt_logprobs"] = _sparse_or_dense(
                target_lps.cpu().numpy(), task.target_prompt_logprobs
            )
        if task.prompt_alt_tokens_k > 0:
            k = task.prompt_alt_tokens_k
            if task.params.temperature == 0:
                alt = logp.argmax(-1, keepdim=True).expand(-1, k)
            else:
                probs = torch.softmax(logits[:-1].float() / task.params.temperature, dim=-1)
                alt = torch.multinomial(probs, k, replacement=True, generator=task.generator)
            out["prompt_alt_tokens"] = types.PromptAltTokens(
                tokens=types.TensorData.from_numpy(alt.cpu().numpy().astype(np.int64)),
                logprobs=types.TensorData.from_numpy(logp.gather(-1, alt).cpu().numpy()),
            )
    return out


def _topk_of(logits: torch.Tensor, params: types.SamplingParams, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k of the distribution a row's token is drawn from (tempered, before truncation)."""
    scaled = logits if params.temperature == 0 else logits / params.temperature
    top = torch.topk(torch.log_softmax(scaled, dim=-1), min(k, logits.shape[-1]), dim=-1)
    return top.indices, top.values


def pick_rows(
    logits: torch.Tensor,
    temperatures: torch.Tensor,
    top_ks: torch.Tensor,
    top_ps: torch.Tensor,
    uniforms: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of every row and its logprob, each row with its own params, in one pass:
    logits [B, V] float32; temperatures, top_ks (V for off), top_ps, uniforms [B]. A row draws by inverting its CDF at its own uniform, which
    its request's generator drew; rows that truncate (top-k / top-p) invert the CDF in sorted
    order, the others in vocabulary order, so no row's draw depends on the others in the batch."""
    vocab = logits.shape[-1]
    greedy = temperatures == 0
    scaled = logits / torch.where(greedy, torch.ones_like(temperatures), temperatures)[:, None]
    logprobs_all = torch.log_softmax(scaled, dim=-1)
    tiny = torch.finfo(logits.dtype).tiny

    def invert(cdf: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        target = (u * cdf[:, -1]).clamp_min(tiny)[:, None]
        return torch.searchsorted(cdf, target).clamp_max(vocab - 1).squeeze(-1)

    drawn = invert(logprobs_all.exp().cumsum(dim=-1), uniforms)
    truncating = (~greedy & ((top_ks < vocab) | (top_ps < 1))).nonzero().squeeze(-1)
    if truncating.numel():
        sub = scaled[truncating]
        sorted_logits, order = torch.sort(sub, dim=-1, descending=True)
        keep = torch.arange(vocab, device=logits.device)[None, :] < top_ks[truncating, None]
        probs = torch.softmax(sorted_logits.masked_fill(~keep, float("-inf")), dim=-1)
        # Drop a token when the mass before it already reaches top_p (the first always stays).
        keep &= (probs.cumsum(dim=-1) - probs) < top_ps[truncating, None]
        index = invert((probs * keep).cumsum(dim=-1), uniforms[truncating])
        drawn = drawn.index_put((truncating,), order.gather(-1, index[:, None]).squeeze(-1))
    tokens = torch.where(greedy, logits.argmax(dim=-1), drawn)
    return tokens, logprobs_all.gather(-1, tokens[:, None]).squeeze(-1)


def _buffered_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class _Buffered(DynamicLayer):
        """transformers' DynamicLayer with its keys/values in a buffer with room to grow, so a
        decode step writes one position instead of copying the whole cache (DynamicLayer's
        torch.cat). `keys`/`values` stay views of the filled part; code that replaces them
        (batch merges, row selection) is noticed, and the buffer rebuilt at the next update."""

        _kview: torch.Tensor | None = None

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            length = self.keys.shape[-2] if self.keys.numel() else 0
            need = length + key_states.shape[-2]
            if self.keys is not self._kview or need > self._kbuf.shape[-2]:
                capacity = max(64, 2 * need)
                kbuf = key_states.new_empty((*key_states.shape[:-2], capacity, key_states.shape[-1]))
                vbuf = value_states.new_empty((*value_states.shape[:-2], capacity, value_states.shape[-1]))
                if length:
                    kbuf[..., :length, :] = self.keys
                    vbuf[..., :length, :] = self.values
                self._kbuf, self._vbuf = kbuf, vbuf
            self._kbuf[..., length:need, :] = key_states
            self._vbuf[..., length:need, :] = value_states
            self.keys = self._kview = self._kbuf[..., :need, :]
            self.values = self._vbuf[..., :need, :]
            return self.keys, self.values

    return _Buffered


_BUFFERED: type | None = None


def new_cache(model: Any) -> Any:
    """A DynamicCache for `model` whose full-attention layers are buffered (`_Buffered`)."""
    global _BUFFERED
    from transformers.cache_utils import DynamicCache, DynamicLayer

    if _BUFFERED is None:
        _BUFFERED = _buffered_layer_class()
    cache = DynamicCache(config=model.config)
    cache.layers = [_BUFFERED() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


def mergeable_cache(cache: Any) -> bool:
    """Whether rows of this cache can be padded and joined with another request's: plain
    per-layer key/value tensors (sliding-window or hybrid layers crop and keep offsets)."""
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None) or ()
    return bool(layers) and all(type(layer) is DynamicLayer or type(layer) is _BUFFERED for layer in layers)


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """Pad dim -2 (the sequence of [B, H, T, D] keys/values) on the left with zeros."""
    if width == 0:
        return t
    shape = list(t.shape)
    shape[-2] = width
    return torch.cat([t.new_zeros(shape), t], dim=-2)


def _needs_prompt_logits(task: SampleTask) -> bool:
    return bool(
        task.prompt_logprobs
        or task.topk_prompt_logprobs
        or task.target_prompt_logprobs is not None
        or task.prompt_alt_tokens_k
    )


class DecodeBatch:
    """The running decode of several requests on one base model (see the module docstring)."""

    def __init__(self, shared: Any, tokenizer: Any) -> None:
        self.shared = shared
        self.tokenizer = tokenizer
        self.tasks: list[SampleTask] = []
        self.cache: Any = None
        self.mask: torch.Tensor | None = None  # [B, T] 1 = real token, 0 = left padding
        self.positions: torch.Tensor | None = None  # [B] position id of each row's next token
        self.logits: torch.Tensor | None = None  # [B, V] float32 next-token logits
        self.row_params: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        if shared.mergeable is None:  # read off the cache layout the model's config asks for
            shared.mergeable = mergeable_cache(new_cache(shared.base.model))

    def __bool__(self) -> bool:
        return bool(self.tasks)

    def can_join(self, task: SampleTask, joining: list[SampleTask]) -> bool:
        """Whether `task` may decode in this batch, given the tasks already set to join it."""
        members = self.tasks + joining
        if not members:
            return True
        if not self.shared.mergeable:
            return False
        return self.shared.mixed_batches or all(t.adapter == task.adapter for t in members)

    @torch.inference_mode()
    def admit(self, tasks: list[SampleTask]) -> None:
        """Prefill each task's prompt and add their rows in one merge (callers checked can_join)."""
        device = self.shared.base.model.device
        if len(tasks) > 1:
            new = self._prefill_together(tasks, device)
        else:
            new = self._prefill_alone(tasks[0], device)
        parts = [new]
        if self.tasks:
            parts.insert(0, (self.cache, self.mask, self.logits, self.row_params))
        total = max(mask.shape[1] for _, mask, _, _ in parts)
        self.cache = parts[0][0]
        caches = [(part[0], total - part[1].shape[1]) for part in parts]  # (cache, left pad)
        if len(parts) > 1:
            for i, layer in enumerate(self.cache.layers):
                layer.keys = torch.cat([_pad_left(c.layers[i].keys, pad) for c, pad in caches])
                layer.values = torch.cat([_pad_left(c.layers[i].values, pad) for c, pad in caches])
        self.mask = torch.cat([torch.nn.functional.pad(p[1], (pad, 0)) for p, (_, pad) in zip(parts, caches)])
        self.positions = self.mask.sum(dim=1)
        self.logits = torch.cat([logits for _, _, logits, _ in parts])
        self.row_params = tuple(torch.cat([p[3][i] for p in parts]) for i in range(3))  # type: ignore
        self.tasks.extend(tasks)

    def _row_params(self, tasks: list[SampleTask], vocab: int, device: torch.device) -> tuple:
        def per_row(value, dtype=torch.float32):
            values = [value(t) for t in tasks for _ in range(t.num_samples)]
            return torch.tensor(values, dtype=dtype, device=device)

        return (
            per_row(lambda t: float(t.params.temperature)),
            per_row(lambda t: vocab if t.params.top_k == -1 else min(t.params.top_k, vocab), torch.long),
            per_row(lambda t: float(t.params.top_p)),
        )

    def _prefill_alone(self, task: SampleTask, device: torch.device) -> tuple:
        keep = 0 if _needs_prompt_logits(task) else 1
        with self.shared.lock:
            model = self.shared.activate(task.adapter)
            out = model(
                input_ids=torch.tensor([task.prompt], device=device),
                past_key_values=new_cache(self.shared.base.model),
                use_cache=True,
                logits_to_keep=keep,
            )
        if keep == 0:
            task.prompt_outputs = _prompt_outputs(task, out.logits[0])
        cache = out.past_key_values
        n = task.num_samples
        if n > 1:
            cache.batch_repeat_interleave(n)
        mask = torch.ones(n, len(task.prompt), dtype=torch.long, device=device)
        logits = out.logits[0, -1:].float().expand(n, -1)
        return cache, mask, logits, self._row_params([task], logits.shape[-1], device)

    def _prefill_together(self, tasks: list[SampleTask], device: torch.device) -> tuple:
        """One forward for several prompts, left-padded, then each prompt's cache row repeated
        for its samples."""
        width = max(len(t.prompt) for t in tasks)
        ids = torch.zeros(len(tasks), width, dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        for i, task in enumerate(tasks):
            ids[i, width - len(task.prompt) :] = torch.tensor(task.prompt, device=device)
            mask[i, width - len(task.prompt) :] = 1
        keep = 0 if any(_needs_prompt_logits(t) for t in tasks) else 1
        with self.shared.lock:
            out = self.shared.forward_rows(
                [t.adapter for t in tasks],
                input_ids=ids,
                attention_mask=mask,
                position_ids=(mask.cumsum(dim=1) - 1).clamp(min=0),
                past_key_values=new_cache(self.shared.base.model),
                use_cache=True,
                logits_to_keep=keep,
            )
        for i, task in enumerate(tasks):
            if _needs_prompt_logits(task):
                task.prompt_outputs = _prompt_outputs(task, out.logits[i, width - len(task.prompt) :])
        rows = torch.repeat_interleave(
            torch.arange(len(tasks), device=device),
            torch.tensor([t.num_samples for t in tasks], device=device),
        )
        cache = out.past_key_values
        cache.batch_select_indices(rows)
        logits = out.logits[:, -1].float()[rows]
        return cache, mask[rows], logits, self._row_params(tasks, logits.shape[-1], device)

    @torch.inference_mode()
    def step(self) -> None:
        """Draw one token for every live row, answer the requests that finished (or were
        cancelled), drop rows that stopped, then run one forward for the rows that go on."""
        assert self.logits is not None and self.row_params is not None
        tokens, logprobs = pick_rows(self.logits, *self.row_params, self._uniforms())
        keep_rows = self._record(tokens.tolist(), logprobs.tolist())
        if not self.tasks:
            self.cache = self.mask = self.positions = self.logits = self.row_params = None
            return
        if len(keep_rows) < len(tokens):  # rows left: drop them from the cache and the state
            index = torch.tensor(keep_rows, device=tokens.device)
            self._keep_rows(index)
            tokens = tokens[index]
        self._forward(tokens)

    def _uniforms(self) -> torch.Tensor:
        """One uniform per live row, from its request's generator (zeros for greedy requests)."""
        assert self.logits is not None
        device = self.logits.device
        # Every row of a request draws its uniform each step, finished or not, so a row's draws
        # depend on its request alone; only live rows are in the batch.
        return torch.cat(
            [
                torch.rand(t.num_samples, generator=t.generator, device=device)[t.live]
                if t.params.temperature > 0
                else torch.zeros(len(t.live), device=device)
                for t in self.tasks
            ]
        )

    def _record(self, token_list: list[int], logprob_list: list[float]) -> list[int]:
        """Give every task its rows' new tokens, answer the tasks that are done or cancelled and
        keep the others; returns the batch rows that go on."""
        keep_rows: list[int] = []
        staying: list[SampleTask] = []
        start = 0
        for task in self.tasks:
            width = len(task.live)
            if task.cancelled():
                task.finish(None)
            elif still := self._advance(task, start, token_list, logprob_list):
                staying.append(task)
                keep_rows.extend(start + k for k in still)
            start += width
        self.tasks = staying
        return keep_rows

    def _advance(self, task: SampleTask, start: int, token_list: list[int], logprob_list: list[float]) -> list[int]:
        """Append the new token of each of `task`'s live rows (batch rows `start`...) and mark
        the rows that hit a stop; answer the task once every row stopped or it reached
        max_tokens. Returns the positions in its old `live` of the rows that go on ([]: done)."""
        assert self.logits is not None
        width = len(task.live)
        if task.topk_sample_logprobs > 0:
            ids_t, lps_t = _topk_of(self.logits[start : start + width], task.params, task.topk_sample_logprobs)
            top_ids, top_lps = ids_t.cpu().numpy(), lps_t.cpu().numpy()
        still = []
        for k, row in enumerate(task.live):
            token = token_list[start + k]
            task.tokens[row].append(token)
            task.logprobs[row].append(logprob_list[start + k])
            if task.topk_sample_logprobs > 0:
                task.topk[row].append((top_ids[k], top_lps[k]))
            if token in task.rules.token_ids or (
                task.rules.strings
                and _stop_string_hit(self.tokenizer, task.tokens[row], task.rules.strings, task.window)
            ):
                task.reasons[row] = "stop"
            else:
                still.append(k)
        task.steps += 1
        if not still or task.steps >= task.max_tokens:
            task.finish(task)
            return []
        task.live = [task.live[k] for k in still]
        return still

    def _keep_rows(self, index: torch.Tensor) -> None:
        """Keep only the batch rows `index` in the cache and the per-row state."""
        assert self.mask is not None and self.positions is not None and self.row_params is not None
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.positions = self.positions[index]
        self.row_params = tuple(p[index] for p in self.row_params)  # type: ignore[assignment]
        self._trim()

    def _trim(self) -> None:
        """Drop leading cache columns that are padding in every row left."""
        assert self.mask is not None
        empty = int((self.mask.sum(0) == 0).long().cumprod(0).sum())
        if empty:
            self.mask = self.mask[:, empty:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[..., empty:, :]
                layer.values = layer.values[..., empty:, :]

    def _forward(self, tokens: torch.Tensor) -> None:
        assert self.mask is not None and self.positions is not None
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=1)
        inputs: dict[str, Any] = dict(input_ids=tokens[:, None], past_key_values=self.cache, use_cache=True)
        if not bool(self.mask.all()):  # padded rows: mask them and give each row its own positions
            inputs["attention_mask"] = self.mask
            inputs["position_ids"] = self.positions[:, None]
        adapters = [t.adapter for t in self.tasks for _ in t.live]
        with self.shared.lock:
            out = self.shared.forward_rows(adapters, **inputs)
        self.cache = out.past_key_values
        self.logits = out.logits[:, -1].float()
        self.positions = self.positions + 1
