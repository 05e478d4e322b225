"""Tinker's built-in losses over one padded batch, as the Tinker docs define them (losses/*).

Every datum is self-contained: position i of `model_input` predicts `target_tokens[i]`. The batch
is right-padded into one tensor and run through the model in a single forward; padded positions
are masked out of every loss. Each loss is a SUM over tokens and datums (not a mean), which is
what `loss:sum` reports and what the gradient is of.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tinker import types

from .errors import EngineError

# Loss name -> the loss_fn_inputs it needs besides target_tokens.
LOSS_INPUTS: dict[str, tuple[str, ...]] = {
    "cross_entropy": (),
    "importance_sampling": ("logprobs", "advantages"),
    "ppo": ("logprobs", "advantages"),
    "cispo": ("logprobs", "advantages"),
    "dro": ("logprobs", "advantages"),
}
# Defaults from the Tinker docs: PPO clips the ratio to [0.8, 1.2]; CISPO caps it one-sidedly at
# 4.0; DRO's beta has no documented default, 0.05 is the docs' example value.
CONFIG_DEFAULTS: dict[str, dict[str, float]] = {
    "cross_entropy": {},
    "importance_sampling": {},
    "ppo": {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2},
    "cispo": {"clip_low_threshold": 0.0, "clip_high_threshold": 4.0},
    "dro": {"beta": 0.05},
}


def check_loss_fn(loss_fn: str) -> None:
    if loss_fn not in LOSS_INPUTS:
        known = ", ".join(LOSS_INPUTS)
        raise EngineError(
            f"loss_fn {loss_fn!r} is not supported by the local engine (supported: {known})"
        )


def resolve_config(loss_fn: str, loss_fn_config: dict[str, float | str] | None) -> dict[str, float]:
    config = dict(CONFIG_DEFAULTS[loss_fn])
    for key, value in (loss_fn_config or {}).items():
        if key not in config:
            allowed = ", ".join(config) or "none"
            raise EngineError(
                f"loss_fn_config key {key!r} is not used by loss_fn {loss_fn!r} (accepted: {allowed})"
            )
        try:
            config[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise EngineError(f"loss_fn_config.{key} must be a number, got {value!r}") from exc
    return config


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, L] int64, right-padded
    targets: torch.Tensor  # [B, L] or [B, L, K] int64
    valid: torch.Tensor  # [B, L] float: 1 at real positions
    lengths: list[int]
    ks: list[int]  # per datum: K of its 2-D targets (1 for 1-D)
    inputs: dict[str, torch.Tensor] = field(default_factory=dict)  # same shape as targets

    @property
    def two_d(self) -> bool:
        return self.targets.dim() == 3


def datum_tokens(datum: types.Datum) -> list[int]:
    try:
        return datum.model_input.to_ints()
    except ValueError as exc:
        raise EngineError(
            "the local engine takes token chunks only (no image chunks) in model_input"
        ) from exc


def build_batch(data: list[types.Datum], loss_fn: str, device: torch.device) -> Batch:
    """The data as one right-padded batch for `loss_fn`; every datum is checked against what the
    loss needs, and errors name the datum and the input."""
    if not data:
        raise EngineError("forward_backward needs at least one datum")
    token_lists = _datum_token_lists(data)
    lengths = [len(t) for t in token_lists]
    target_arrays = _target_arrays(data, lengths, loss_fn)
    k = _target_k(target_arrays, loss_fn)
    ids, valid, targets = _pad_tokens(token_lists, target_arrays, k)
    inputs = {
        key: torch.from_numpy(_padded_input(data, key, loss_fn, target_arrays, targets.shape, k)).to(device)
        for key in _input_keys(loss_fn)
    }
    if targets.min() < 0:
        raise EngineError("target_tokens must be token ids >= 0")
    return Batch(
        input_ids=torch.from_numpy(ids).to(device),
        targets=torch.from_numpy(targets).to(device),
        valid=torch.from_numpy(valid).to(device),
        lengths=lengths,
        ks=[t.shape[1] if t.ndim == 2 else 1 for t in target_arrays],
        inputs=inputs,
    )


def _datum_token_lists(data: list[types.Datum]) -> list[list[int]]:
    token_lists = [datum_tokens(d) for d in data]
    lengths = [len(t) for t in token_lists]
    if min(lengths) == 0:
        raise EngineError(f"datum {lengths.index(0)} has an empty model_input")
    return token_lists


def _target_arrays(data: list[types.Datum], lengths: list[int], loss_fn: str) -> list[np.ndarray]:
    """Each datum's target_tokens: [n] or [n, K] for a model_input of n tokens."""
    target_arrays = []
    for i, datum in enumerate(data):
        if "target_tokens" not in datum.loss_fn_inputs:
            raise EngineError(f"datum {i}: loss_fn {loss_fn!r} needs loss_fn_inputs['target_tokens']")
        target = np.asarray(datum.loss_fn_inputs["target_tokens"].to_numpy(), dtype=np.int64)
        if target.ndim not in (1, 2) or target.shape[0] != lengths[i]:
            raise EngineError(
                f"datum {i}: target_tokens has shape {list(target.shape)}, expected "
                f"[{lengths[i]}] or [{lengths[i]}, K] (model_input length {lengths[i]})"
            )
        target_arrays.append(target)
    return target_arrays


def _target_k(target_arrays: list[np.ndarray], loss_fn: str) -> int | None:
    """The batch's K for 2-D targets (the widest datum's), None for 1-D ones."""
    ndims = {t.ndim for t in target_arrays}
    if len(ndims) > 1:
        raise EngineError("target_tokens must be 1-D in every datum or 2-D in every datum")
    k = max(t.shape[1] for t in target_arrays) if 2 in ndims else None
    if k is not None and loss_fn != "cross_entropy":
        raise EngineError(f"2-D target_tokens are only supported by cross_entropy, not {loss_fn!r}")
    return k


def _pad_tokens(
    token_lists: list[list[int]], target_arrays: list[np.ndarray], k: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input ids [B, L], valid [B, L], targets [B, L] or [B, L, K]), right-padded with 0."""
    width = max(len(t) for t in token_lists)
    rows = len(token_lists)
    shape = (rows, width) if k is None else (rows, width, k)
    ids = np.zeros((rows, width), dtype=np.int64)
    valid = np.zeros((rows, width), dtype=np.float32)
    targets = np.zeros(shape, dtype=np.int64)
    for i, (tokens, target) in enumerate(zip(token_lists, target_arrays, strict=True)):
        n = len(tokens)
        ids[i, :n] = tokens
        valid[i, :n] = 1.0
        targets[i, :n, ...] = target if k is None else _pad_k(target, k)
    return ids, valid, targets


def _input_keys(loss_fn: str) -> tuple[str, ...]:
    """The loss_fn_inputs besides target_tokens that `loss_fn` reads."""
    return LOSS_INPUTS[loss_fn] + (("weights",) if loss_fn == "cross_entropy" else ())


def _padded_input(
    data: list[types.Datum],
    key: str,
    loss_fn: str,
    target_arrays: list[np.ndarray],
    shape: tuple[int, ...],
    k: int | None,
) -> np.ndarray:
    """loss_fn_inputs[key] of every datum, shaped like its target_tokens, padded like the targets."""
    array = np.zeros(shape, dtype=np.float32)
    for i, datum in enumerate(data):
        n = target_arrays[i].shape[0]
        tensor = datum.loss_fn_inputs.get(key)
        if tensor is None:
            if key == "weights":
                # A datum sent only for its logprobs (e.g. SDK `forward`) may carry no weights.
                array[i, :n] = 1.0
                continue
            raise EngineError(f"datum {i}: loss_fn {loss_fn!r} needs loss_fn_inputs[{key!r}]")
        values = np.asarray(tensor.to_numpy(), dtype=np.float32)
        expected = target_arrays[i].shape
        if values.shape != expected:
            raise EngineError(
                f"datum {i}: loss_fn_inputs[{key!r}] has shape {list(values.shape)}, "
                f"expected {list(expected)} like target_tokens"
            )
        array[i, :n, ...] = values if k is None else _pad_k(values, k)
    return array


def _pad_k(array: np.ndarray, k: int) -> np.ndarray:
    if array.shape[1] == k:
        return array
    out = np.zeros((array.shape[0], k), dtype=array.dtype)
    out[:, : array.shape[1]] = array
    return out


def target_logprobs(model, batch: Batch) -> torch.Tensor:
    """log p(target | prefix) at every position: [B, L] or [B, L, K], float32.

    No attention mask: padding is on the right and attention is causal, so real positions never
    see pads, and the maskless path is the model's fastest.
    """
    logits = model(input_ids=batch.input_ids, use_cache=False).logits.float()
    vocab = logits.shape[-1]
    if int(batch.targets.max()) >= vocab:
        raise EngineError(f"target_tokens hold an id >= the model's vocabulary size {vocab}")
    index = batch.targets if batch.two_d else batch.targets.unsqueeze(-1)
    picked = logits.gather(-1, index) - torch.logsumexp(logits, dim=-1, keepdim=True)
    return picked if batch.two_d else picked.squeeze(-1)


def token_losses(
    loss_fn: str, logprobs: torch.Tensor, batch: Batch, config: dict[str, float]
) -> torch.Tensor:
    """Per-token loss, zero at padded positions; the total loss is its sum."""
    inputs = batch.inputs
    if loss_fn == "cross_entropy":
        loss = -inputs["weights"] * logprobs
    else:
        sampling_logprobs = inputs["logprobs"]
        advantages = inputs["advantages"]
        ratio = torch.exp(logprobs - sampling_logprobs)
        if loss_fn == "importance_sampling":
            loss = -(ratio * advantages)
        elif loss_fn == "ppo":
            clipped = torch.clamp(
                ratio, config["clip_low_threshold"], config["clip_high_threshold"]
            )
            loss = -torch.min(ratio * advantages, clipped * advantages)
        elif loss_fn == "cispo":
            clipped = torch.clamp(
                ratio, config["clip_low_threshold"], config["clip_high_threshold"]
            ).detach()
            loss = -(clipped * logprobs * advantages)
        elif loss_fn == "dro":
            quadratic = (logprobs - sampling_logprobs) ** 2
            loss = -(logprobs * advantages - 0.5 * config["beta"] * quadratic)
        else:  # check_loss_fn ran first
            raise EngineError(f"loss_fn {loss_fn!r} is not supported by the local engine")
    mask = batch.valid if not batch.two_d else batch.valid.unsqueeze(-1)
    return loss * mask


def per_datum_outputs(logprobs: torch.Tensor, batch: Batch) -> list[dict[str, types.TensorData]]:
    array = logprobs.detach().float().cpu().numpy()
    outputs = []
    for i, n in enumerate(batch.lengths):
        row = array[i, :n] if not batch.two_d else array[i, :n, : batch.ks[i]]
        outputs.append({"logprobs": types.TensorData.from_numpy(np.ascontiguousarray(row))})
    return outputs
