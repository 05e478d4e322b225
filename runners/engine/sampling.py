"""Batched sampling with a KV cache, and prompt logprobs, as Tinker's sampler returns them.

The prompt is prefilled once; its cache is repeated for the `num_samples` rows, which then decode
together, one forward per new token. Semantics follow tinker 0.38's SamplingParams:
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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tinker import types
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
        stop = list(stop)  # type: ignore[arg-type]
        if not stop:
            return cls(frozenset(), ())
        if all(isinstance(s, str) for s in stop):
            return cls(frozenset(eos_ids), tuple(s for s in stop if s))
        if all(isinstance(s, int) and not isinstance(s, bool) for s in stop):
            return cls(frozenset(eos_ids) | frozenset(stop), ())
        raise EngineError("sampling_params.stop must be a string, a list of strings or a list of token ids")


@dataclass
class Completion:
    tokens: list[int]
    logprobs: list[float]
    stop_reason: str  # "stop" | "length"


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


def _pick(
    logits: torch.Tensor, params: types.SamplingParams, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Next token per row and its logprob; logits is [N, V] float32."""
    if params.temperature == 0:
        tokens = logits.argmax(dim=-1)
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
        return tokens, logprobs
    scaled = logits / params.temperature
    logprobs_all = torch.log_softmax(scaled, dim=-1)
    filtered = scaled
    if params.top_k != -1 and params.top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, params.top_k, dim=-1).values[:, -1:]
        filtered = filtered.masked_fill(filtered < kth, float("-inf"))
    if params.top_p < 1:
        sorted_logits, order = torch.sort(filtered, dim=-1, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p (the first always stays).
        drop_sorted = (cumulative - torch.softmax(sorted_logits, dim=-1)) >= params.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        filtered = filtered.masked_fill(drop, float("-inf"))
    probs = torch.softmax(filtered, dim=-1)
    tokens = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return tokens, logprobs_all.gather(-1, tokens[:, None]).squeeze(-1)


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


@torch.inference_mode()
def sample(
    model,
    tokenizer,
    prompt: list[int],
    num_samples: int,
    params: types.SamplingParams,
    eos_ids: Sequence[int],
    context_length: int,
    generator: torch.Generator,
    prompt_logprobs: bool = False,
    topk_prompt_logprobs: int = 0,
    prompt_logprobs_last_n: int | None = None,
) -> tuple[list[Completion], np.ndarray | None, TopkLogprobs | None]:
    check_sampling_params(params)
    if not prompt:
        raise EngineError("the prompt is empty")
    if num_samples < 1:
        raise EngineError(f"num_samples must be >= 1, got {num_samples}")
    if prompt_logprobs_last_n is not None and not 1 <= prompt_logprobs_last_n <= len(prompt) - 1:
        raise EngineError(
            f"prompt_logprobs_last_n must be between 1 and len(prompt) - 1 = {len(prompt) - 1}, "
            f"got {prompt_logprobs_last_n}"
        )
    room = context_length - len(prompt)
    max_tokens = params.max_tokens if params.max_tokens is not None else room
    if max_tokens > room:
        raise EngineError(
            f"prompt ({len(prompt)} tokens) + max_tokens ({max_tokens}) exceeds the model's "
            f"context length {context_length}"
        )
    rules = StopRules.from_params(params.stop, eos_ids)
    window = 4 * max((len(s) for s in rules.strings), default=0) + 2
    device = next(model.parameters()).device

    out = model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
    prompt_values, prompt_topk = (None, None)
    if prompt_logprobs or topk_prompt_logprobs > 0:
        prompt_values, prompt_topk = prompt_logprobs_from_logits(
            out.logits[0], prompt, prompt_logprobs_last_n, topk_prompt_logprobs
        )
        if not prompt_logprobs:
            prompt_values = None
    cache = out.past_key_values
    if num_samples > 1:
        cache.batch_repeat_interleave(num_samples)
    logits = out.logits[0, -1:].float().expand(num_samples, -1)

    tokens: list[list[int]] = [[] for _ in range(num_samples)]
    logprobs: list[list[float]] = [[] for _ in range(num_samples)]
    reasons: list[str | None] = [None] * num_samples
    for step in range(max_tokens):
        next_tokens, next_logprobs = _pick(logits, params, generator)
        token_list = next_tokens.tolist()
        logprob_list = next_logprobs.tolist()
        for row in range(num_samples):
            if reasons[row] is not None:
                continue
            tokens[row].append(token_list[row])
            logprobs[row].append(logprob_list[row])
            if token_list[row] in rules.token_ids or (
                rules.strings and _stop_string_hit(tokenizer, tokens[row], rules.strings, window)
            ):
                reasons[row] = "stop"
        if all(r is not None for r in reasons) or step == max_tokens - 1:
            break
        out = model(input_ids=next_tokens[:, None], past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        logits = out.logits[:, -1].float()

    completions = [
        Completion(tokens=t, logprobs=lp, stop_reason=r or "length")
        for t, lp, r in zip(tokens, logprobs, reasons, strict=True)
    ]
    return completions, prompt_values, prompt_topk
