"""Small random-weight models of the families Tinker serves, as local folders with the tiny model's
tokenizer: what the engine's family tests (and `make bench-gpu`) train and sample offline.

Each config keeps its family's distinctive parts (Llama 3's rope scaling and grouped-query
attention; Qwen3's q/k norms; Qwen3-MoE's routed experts, fused into 3-D parameters by
transformers 5; GPT-OSS's experts with biases, attention sinks and sliding-window layers) at
sizes that train in seconds on a CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

# Each family: its transformers config class and what it sets on top of `SMALL_SHAPE`.
FAMILY_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama3": (
        "LlamaConfig",
        dict(
            intermediate_size=128,
            rope_parameters={
                "rope_type": "llama3",
                "rope_theta": 500000.0,
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 256,
            },
        ),
    ),
    "qwen3": ("Qwen3Config", dict(intermediate_size=128, head_dim=16)),
    "qwen3_moe": (
        "Qwen3MoeConfig",
        dict(intermediate_size=128, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2, decoder_sparse_step=1, head_dim=16),
    ),
    "gpt_oss": (
        "GptOssConfig",
        dict(
            intermediate_size=32,
            num_local_experts=4,
            num_experts_per_tok=2,
            head_dim=16,
            sliding_window=64,
            rope_parameters={
                "rope_type": "yarn",
                "rope_theta": 150000.0,
                "factor": 4.0,
                "original_max_position_embeddings": 256,
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "truncate": False,
            },
        ),
    ),
}
FAMILIES = tuple(FAMILY_CONFIGS)
SMALL_SHAPE: dict[str, Any] = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024
)


def model_config(config_class: str, **fields: Any) -> Any:
    """transformers' `config_class` with the tiny model's vocabulary and special ids, untied
    embeddings, and `fields`."""
    import transformers

    vocab = tiny_vocab()
    return getattr(transformers, config_class)(
        vocab_size=vocab["vocab"],
        eos_token_id=vocab["eos"],
        pad_token_id=vocab["pad"],
        tie_word_embeddings=False,
        **fields,
    )


def tiny_vocab() -> dict[str, Any]:
    """The tiny model's vocabulary size and special ids, which every family folder shares."""
    from cookbook_tui.common.tiny_model import ensure_tiny_model

    config = json.loads((ensure_tiny_model() / "config.json").read_text())
    return {"vocab": config["vocab_size"], "eos": config.get("eos_token_id"), "pad": config.get("pad_token_id")}


def write_model_folder(config: Any, folder: Path, seed: int = 0) -> Path:
    """`folder`: `config` with random weights from `seed` and the tiny model's tokenizer files,
    written whole or not at all (a temporary folder renamed into place)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from cookbook_tui.common.tiny_model import ensure_tiny_model, set_offline_env

    set_offline_env()
    hf_logging.disable_progress_bar()
    if (folder / "config.json").exists():
        return folder
    tiny = ensure_tiny_model()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
        if (tiny / name).exists():
            shutil.copy(tiny / name, tmp / name)
    tmp.rename(folder)
    return folder


def family_folder(family: str, root: Path, seed: int = 0) -> Path:
    """`root/<family>`: a small random-weight model of that family with our tokenizer."""
    folder = root / family
    if (folder / "config.json").exists():
        return folder
    config_class, fields = FAMILY_CONFIGS[family]
    return write_model_folder(model_config(config_class, **SMALL_SHAPE, **fields), folder, seed)
