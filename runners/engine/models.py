"""Loading base models and tokenizers, and wrapping them in LoRA adapters as Tinker configures them.

A base model is loaded once per name and kept frozen; it serves base-model sampling directly and
is deep-copied for each training model, whose LoRA layers peft injects in place.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass
from typing import Any

import torch
from tinker import types

from ..tiny_model import TINY_MODEL_NAME, resolve_model_path, set_offline_env
from .errors import EngineError

# Tinker's LoRA scaling: alpha 32 whatever the rank (tinker_cookbook.hyperparam_utils assumes it).
LORA_ALPHA = 32
MAX_LORA_RANK = 1024
_ATTN_HINTS = ("attn", "attention")
_MLP_HINTS = ("mlp", "feed_forward", "ffn", "experts")


def pick_device(device: str | None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class BaseModel:
    name: str
    path: str  # what from_pretrained loads: the tiny model's folder, a local folder or a hub name
    tokenizer_id: str  # what a client hands AutoTokenizer.from_pretrained, offline
    model: Any  # transformers PreTrainedModel, eval mode, frozen
    tokenizer: Any
    context_length: int
    stop_token_ids: list[int]


class BaseModelCache:
    """One loaded copy of each base model, loaded on first use (thread safe)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._models: dict[str, BaseModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> BaseModel:
        if not name or not isinstance(name, str):
            raise EngineError(f"base_model must be a model name or folder, got {name!r}")
        with self._lock:
            if name not in self._models:
                self._models[name] = self._load(name)
            return self._models[name]

    def _load(self, name: str) -> BaseModel:
        set_offline_env()
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the load bar would land in the TUI / run logs

        path = resolve_model_path(name)
        tokenizer_id = name if name == TINY_MODEL_NAME else path
        if os.path.isdir(os.path.expanduser(path)):
            path = os.path.expanduser(path)
            tokenizer_id = name if name == TINY_MODEL_NAME else path
        dtype = torch.float32 if self.device.type == "cpu" else "auto"
        try:
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"cannot load base_model {name!r}: {str(exc).splitlines()[0] if str(exc) else exc}",
                category="user",
            ) from exc
        model.to(self.device)
        model.eval()
        model.requires_grad_(False)
        config = model.config
        context_length = int(
            getattr(config, "max_position_embeddings", None)
            or getattr(tokenizer, "model_max_length", 2048)
        )
        return BaseModel(
            name=name,
            path=path,
            tokenizer_id=tokenizer_id,
            model=model,
            tokenizer=tokenizer,
            context_length=context_length,
            stop_token_ids=_eos_ids(model, tokenizer),
        )


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        eos = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, (list, tuple)):
            ids.update(int(e) for e in eos)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return sorted(ids)


def lora_target_modules(model: Any, lora_config: types.LoraConfig) -> list[str]:
    """Full names of the Linear layers LoRA adapts, per train_attn / train_mlp / train_unembed."""
    output = model.get_output_embeddings()
    targets = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if module is output:
            if lora_config.train_unembed:
                targets.append(name)
            continue
        parts = name.lower().split(".")[:-1]
        if any(h in p for p in parts for h in _ATTN_HINTS):
            if lora_config.train_attn:
                targets.append(name)
        elif any(h in p for p in parts for h in _MLP_HINTS):
            if lora_config.train_mlp:
                targets.append(name)
    if not targets:
        raise EngineError(
            "lora_config trains no layer: set at least one of train_attn, train_mlp, train_unembed"
        )
    return targets


def check_lora_config(lora_config: types.LoraConfig) -> None:
    # The upper bound keeps one request from asking for adapters that exhaust memory.
    if not 1 <= lora_config.rank <= MAX_LORA_RANK:
        raise EngineError(f"lora_config.rank must be between 1 and {MAX_LORA_RANK}, got {lora_config.rank}")


def build_lora_model(base: BaseModel, lora_config: types.LoraConfig, seed: int) -> Any:
    """A private copy of the base model with fresh LoRA adapters (B = 0, so it starts equal to
    the base model); the adapters' initialisation is seeded and leaves the global RNG alone."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    check_lora_config(lora_config)
    model = copy.deepcopy(base.model)
    peft_config = PeftLoraConfig(
        r=lora_config.rank,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.0,
        target_modules=lora_target_modules(model, lora_config),
        bias="none",
    )
    init_seed = lora_config.seed if lora_config.seed is not None else seed
    devices = [base.model.device] if base.model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(init_seed)
        peft_model = get_peft_model(model, peft_config)
    peft_model.eval()  # no dropout anywhere: training and sampling see the same function
    return peft_model


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def lora_signature(lora_config: types.LoraConfig) -> tuple:
    return (
        lora_config.rank,
        lora_config.train_attn,
        lora_config.train_mlp,
        lora_config.train_unembed,
    )
