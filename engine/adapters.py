"""Frozen adapter weights behind samplers, with bounded memory.

An RL loop saves sampler weights every step and makes a new sampler each time, so the engine
keeps only the most recently used adapter tensors in memory. An evicted adapter that lives in a
checkpoint folder is re-read from it; an ephemeral one (save_weights_and_get_sampling_client,
never named) is spilled to a scratch folder on eviction and read back from there.

To sample, a sampler's tensors are copied into a slot: a peft adapter of the same LoRA shape on
the shared base model (`SamplerSlots`). A base keeps a few slots, so requests of different
samplers decode in one batch, and an RL loop's new sampler each step reuses a slot.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tinker import types

from .checkpoints import ADAPTER_FILE
from .errors import EngineError

KEEP_IN_MEMORY = 16
SLOTS_PER_BASE = 4  # sampler adapters loaded at once on one base (more only while all are busy)


@dataclass(frozen=True)
class Adapter:
    """What a sampler samples from: a base model, plus LoRA tensors unless it is base-only."""

    key: str  # identifies these exact tensors, so a sampling model knows what it has loaded
    base_model: str
    lora_config: types.LoraConfig | None = None
    model_path: str | None = None
    folder: Path | None = None  # the checkpoint folder holding the tensors, if any


class AdapterCache:
    def __init__(self, spill_dir: Path, device: torch.device, keep: int = KEEP_IN_MEMORY) -> None:
        spill_dir.mkdir(parents=True, exist_ok=True)
        self.spill_dir = spill_dir
        self.device = device
        self.keep = keep
        self._states: OrderedDict[str, tuple[Adapter, dict[str, torch.Tensor]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, adapter: Adapter, state: dict[str, torch.Tensor]) -> None:
        with self._lock:
            self._states[adapter.key] = (adapter, state)
            self._states.move_to_end(adapter.key)
            while len(self._states) > self.keep:
                old, (old_adapter, old_state) = self._states.popitem(last=False)
                if old_adapter.folder is None:
                    self._spill(old, old_state)

    def state(self, adapter: Adapter) -> dict[str, torch.Tensor]:
        with self._lock:
            held = self._states.get(adapter.key)
            if held is not None:
                self._states.move_to_end(adapter.key)
                return held[1]
        file = (adapter.folder / ADAPTER_FILE) if adapter.folder else self._spill_file(adapter.key)
        if not file.exists():
            raise EngineError(
                f"the weights behind {adapter.model_path or adapter.key} are gone (checkpoint deleted?)",
                "not_found",
            )
        state = read_adapter_file(file, self.device)
        self.put(adapter, state)
        return state

    def _spill_file(self, key: str) -> Path:
        return self.spill_dir / f"{hashlib.sha1(key.encode()).hexdigest()}.safetensors"

    def _spill(self, key: str, state: dict[str, torch.Tensor]) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(self._spill_file(key)))


def read_adapter_file(file: Path, device: torch.device) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(file), device=str(device))


def lora_signature(lora_config: types.LoraConfig) -> tuple:
    return (lora_config.rank, lora_config.train_attn, lora_config.train_mlp, lora_config.train_unembed)


@dataclass
class _Slot:
    name: str  # the peft adapter's name on the shared model
    signature: tuple
    key: str | None = None  # the Adapter whose tensors it holds


class SamplerSlots:
    """Sampler adapter slots on each shared base model, reused least recently used first."""

    def __init__(self, per_base: int = SLOTS_PER_BASE) -> None:
        self.per_base = per_base
        self._slots: dict[int, OrderedDict[str, _Slot]] = {}

    def acquire(
        self, shared: Any, adapter: Adapter, state: dict[str, torch.Tensor], busy: set[str | None], seed: int
    ) -> str:
        """The peft name of a slot holding `adapter`'s tensors; a slot in `busy` (rows of a running
        batch use it) is never overwritten."""
        assert adapter.lora_config is not None
        slots = self._slots.setdefault(id(shared), OrderedDict())
        signature = lora_signature(adapter.lora_config)
        slot = next((s for s in slots.values() if s.key == adapter.key), None)
        if slot is None:
            free = [s for s in slots.values() if s.name not in busy]
            slot = next((s for s in free if s.signature == signature), None)
            if slot is None:
                if len(slots) >= self.per_base and free:
                    shared.delete_adapter(free[0].name)
                    del slots[free[0].name]
                slot = _Slot(shared.add_adapter(adapter.lora_config, seed, prefix="sampler"), signature)
                slots[slot.name] = slot
            current = shared.adapter_params(slot.name)
            if set(current) != set(state):
                raise EngineError(f"the weights behind {adapter.model_path} do not fit their LoRA config")
            with shared.lock, torch.no_grad():
                for key, tensor in state.items():
                    current[key].copy_(tensor)
            slot.key = adapter.key
        slots.move_to_end(slot.name)
        return slot.name
