"""Frozen adapter weights behind samplers, with bounded memory.

An RL loop saves sampler weights every step and makes a new sampler each time, so the engine
keeps only the most recently used adapter tensors in memory. An evicted adapter that lives in a
checkpoint folder is re-read from it; an ephemeral one (save_weights_and_get_sampling_client,
never named) is spilled to a scratch folder on eviction and read back from there.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from tinker import types

from .checkpoints import ADAPTER_FILE
from .errors import EngineError

KEEP_IN_MEMORY = 16


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
