"""Loading base models and tokenizers, and the LoRA adapters Tinker configures on them.

A base model is loaded once per name and kept frozen. Every LoRA adapter of that base (training
models, samplers) is a named peft adapter on that one copy (`SharedModel`): a call activates its
adapter, so N training clients and samplers cost the base weights once plus their small adapters.
Fused MoE expert weights (3-D parameters, not Linear layers) get LoRA through peft's
`target_parameters`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from tinker import types

from cookbook_tui.common.tiny_model import TINY_MODEL_NAME, resolve_model_path, set_offline_env

from .errors import EngineError

# Tinker's LoRA scaling: alpha 32 whatever the rank (tinker_cookbook.hyperparam_utils assumes it).
LORA_ALPHA = 32
MAX_LORA_RANK = 1024
_ATTN_HINTS = ("attn", "attention")
_MLP_HINTS = ("mlp", "feed_forward", "ffn", "experts")


DEVICE_ENV = "COOKBOOK_TUI_DEVICE"


def pick_device(device: str | None) -> torch.device:
    """`device`, else $COOKBOOK_TUI_DEVICE, else CUDA when present, else the CPU."""
    device = device or os.environ.get(DEVICE_ENV)
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def weights_dtype(device: torch.device) -> torch.dtype:
    """Base weights: float32 on the CPU (bf16 matmuls are slow there and gain nothing), bfloat16
    on CUDA. LoRA weights and AdamW state stay float32 on both (peft's autocast_adapter_dtype),
    and logits are taken in float32 for losses, logprobs and sampling."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@dataclass
class BaseModel:
    name: str
    path: str  # what from_pretrained loads: the tiny model's folder, a local folder or a hub name
    tokenizer_id: str  # what a client hands AutoTokenizer.from_pretrained, offline
    model: Any  # transformers PreTrainedModel, eval mode, frozen
    tokenizer: Any
    context_length: int
    stop_token_ids: list[int]
    layers: list[tuple[str, str]]  # (full name, "attn" | "mlp" | "unembed") of each adaptable weight
    shared: SharedModel | None = None  # set once loaded: the adapters living on this base

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().num_embeddings


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
        path, tokenizer_id = _locate(name)
        tokenizer, model = _from_pretrained(name, path, self.device)
        base = BaseModel(
            name=name,
            path=path,
            tokenizer_id=tokenizer_id,
            model=model,
            tokenizer=tokenizer,
            context_length=_context_length(model.config, tokenizer),
            stop_token_ids=_eos_ids(model, tokenizer),
            layers=_adaptable_layers(model),
        )
        base.shared = SharedModel(base)
        return base


def _locate(name: str) -> tuple[str, str]:
    """(what from_pretrained loads, what a client loads the tokenizer by) for a model name:
    the tiny model keeps its short name, a folder its expanded path."""
    path = resolve_model_path(name)
    if os.path.isdir(os.path.expanduser(path)):
        path = os.path.expanduser(path)
    return path, name if name == TINY_MODEL_NAME else path


def _from_pretrained(name: str, path: str, device: torch.device) -> tuple[Any, Any]:
    """(tokenizer, model): the model on `device`, in eval mode and frozen."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the load bar would land in the TUI / run logs
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=weights_dtype(device))
    except (OSError, ValueError) as exc:
        raise EngineError(
            f"cannot load base_model {name!r}: {str(exc).splitlines()[0] if str(exc) else exc}",
            category="user",
        ) from exc
    model.to(device)  # type: ignore[arg-type]  # transformers types `to` through a decorator that loses its signature
    model.eval()
    model.requires_grad_(False)
    return tokenizer, model


def _context_length(config: Any, tokenizer: Any) -> int:
    return int(getattr(config, "max_position_embeddings", 0) or getattr(tokenizer, "model_max_length", 2048))


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



def _kind(name: str) -> str | None:
    parts = name.lower().split(".")[:-1]
    if any(h in p for p in parts for h in _ATTN_HINTS):
        return "attn"
    if any(h in p for p in parts for h in _MLP_HINTS):
        return "mlp"
    return None


def _adaptable_layers(model: Any) -> list[tuple[str, str]]:
    """Every Linear (by its module name) and every fused 3-D expert weight (by its parameter
    name, e.g. `mlp.experts.gate_up_proj`) LoRA may adapt, read before peft wraps anything."""
    output = model.get_output_embeddings()
    layers = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            kind = "unembed" if module is output else _kind(name)
            if kind:
                layers.append((name, kind))
    for name, param in model.named_parameters():
        if param.dim() == 3 and "expert" in name.lower():
            layers.append((name, "experts"))
    return layers


def check_lora_config(lora_config: types.LoraConfig) -> None:
    # The upper bound keeps one request from asking for adapters that exhaust memory.
    if not 1 <= lora_config.rank <= MAX_LORA_RANK:
        raise EngineError(f"lora_config.rank must be between 1 and {MAX_LORA_RANK}, got {lora_config.rank}")


def _peft_config(base: BaseModel, lora_config: types.LoraConfig) -> Any:
    from peft import LoraConfig as PeftLoraConfig

    wanted = {
        "attn": lora_config.train_attn,
        "mlp": lora_config.train_mlp,
        "unembed": lora_config.train_unembed,
        "experts": lora_config.train_mlp,
    }
    modules = [name for name, kind in base.layers if kind != "experts" and wanted[kind]]
    parameters = [name for name, kind in base.layers if kind == "experts" and wanted[kind]]
    if not modules and not parameters:
        raise EngineError(
            "lora_config trains no layer: set at least one of train_attn, train_mlp, train_unembed"
        )
    return PeftLoraConfig(
        r=lora_config.rank,
        lora_alpha=LORA_ALPHA,
        lora_dropout=0.0,
        # Anchored regexes: a full module name must not also match the adapters peft nests in it.
        target_modules="^(" + "|".join(map(_re_escape, modules)) + ")$" if modules else [],
        target_parameters=parameters or None,
        bias="none",
    )


def _re_escape(name: str) -> str:
    import re

    return re.escape(name)


def disk_name(param_name: str, adapter: str) -> str:
    """A peft parameter name as checkpoints store it: the adapter's segment reads `default`, as
    when every model had its own peft copy, so checkpoints keep their layout."""
    parts = param_name.split(".")
    return ".".join("default" if p == adapter and i and parts[i - 1].startswith("lora_") else p
                    for i, p in enumerate(parts))


class SharedModel:
    """The one copy of a base model's weights, with its LoRA adapters as named peft adapters.

    Callers hold `lock` around `activate(...)` and the forward/backward that follows (the engine
    runs model work on one worker thread, so it is rarely contended). `activate(None)` is the
    bare base model; `mixed(names)` is a forward whose rows use different adapters."""

    def __init__(self, base: BaseModel) -> None:
        self.base = base
        self.peft: Any = None
        self.lock = threading.RLock()
        self._active: str | None = None
        self._names = itertools.count(1)
        self._params: dict[str, dict[str, torch.nn.Parameter]] = {}
        # Whether requests' KV caches can be joined in one batch (not with sliding-window layers);
        # None until the first DecodeBatch reads it off the model's cache layout.
        self.mergeable: bool | None = None

    @property
    def mixed_batches(self) -> bool:
        """Whether rows with different adapters may share a forward: peft's mixed-adapter batches
        cover LoRA on Linear layers, not LoRA on fused expert parameters."""
        return not any(kind == "experts" for _, kind in self.base.layers)

    def add_adapter(self, lora_config: types.LoraConfig, seed: int, prefix: str = "a") -> str:
        """A fresh adapter (B = 0, so it starts equal to the base model); its initialisation is
        seeded and leaves the global RNG alone. Returns its peft name."""
        from peft import get_peft_model

        check_lora_config(lora_config)
        config = _peft_config(self.base, lora_config)
        name = f"{prefix}{next(self._names)}"
        init_seed = lora_config.seed if lora_config.seed is not None else seed
        devices = [self.base.model.device] if self.base.model.device.type == "cuda" else []
        with self.lock, torch.random.fork_rng(devices=devices):
            torch.manual_seed(init_seed)
            if self.peft is None:
                self.peft = get_peft_model(
                    self.base.model, config, adapter_name=name, autocast_adapter_dtype=True
                )
            else:
                self.peft.add_adapter(name, config, autocast_adapter_dtype=True)
            self.peft.eval()  # no dropout anywhere: training and sampling see the same function
            marker = f".{name}."
            self._params[name] = {
                disk_name(k, name): p
                for k, p in self.peft.named_parameters()
                if marker in k and ".lora_" in k
            }
            for param in self._params[name].values():
                param.requires_grad_(False)  # activate(name, train=True) turns them on
            self._active = "?"  # peft may have changed which adapter is active
        return name

    def delete_adapter(self, name: str) -> None:
        with self.lock:
            if self.peft is not None and name in self.peft.peft_config:
                if len(self.peft.peft_config) > 1:
                    with warnings.catch_warnings():  # "adapter X was active, now Y is": we re-activate
                        warnings.simplefilter("ignore")
                        self.peft.delete_adapter(name)
                    self._params.pop(name, None)
                    self._active = "?"
                # peft cannot delete its last adapter; it stays, unused, until the next one replaces it

    def adapter_params(self, name: str) -> dict[str, torch.nn.Parameter]:
        """Adapter `name`'s tensors under their checkpoint names."""
        return self._params[name]

    def activate(self, name: str | None, train: bool = False) -> Any:
        """Make `name` (None: no adapter) the adapter the next forward uses; returns the model."""
        if self.peft is None:
            if name is not None:
                raise EngineError(f"adapter {name!r} is not on base {self.base.name!r}")
            return self.base.model
        if name != self._active:
            if name is None:
                self.peft.base_model.disable_adapter_layers()
            else:
                self.peft.base_model.enable_adapter_layers()
                self.peft.set_adapter(name, inference_mode=True)
            self._active = name
        if name is not None and train:
            for param in self.adapter_params(name).values():
                param.requires_grad_(True)
        return self.peft

    @contextlib.contextmanager
    def training(self, name: str) -> Iterator[Any]:
        """The model with adapter `name` active and trainable, for one forward/backward."""
        with self.lock:
            model = self.activate(name, train=True)
            try:
                yield model
            finally:
                for param in self.adapter_params(name).values():
                    param.requires_grad_(False)

    def forward_rows(self, adapters: list[str | None], **inputs: Any) -> Any:
        """One forward whose row i uses adapter adapters[i] (None: the base model)."""
        first = adapters[0]
        if all(a == first for a in adapters) or self.peft is None:
            return self.activate(first)(**inputs)
        if not self.mixed_batches:
            raise EngineError("rows with different adapters cannot share a forward on this model")
        self.peft.base_model.enable_adapter_layers()
        self._active = "?"
        return self.peft(**inputs, adapter_names=["__base__" if a is None else a for a in adapters])
