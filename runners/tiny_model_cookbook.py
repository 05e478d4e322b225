"""The bundled tiny model made known to tinker-cookbook (its renderer and "auto" learning rate), in
the runner's process only."""

from __future__ import annotations

from pathlib import Path

from cookbook_tui.common.tiny_model import TINY_MODEL_BUILD, tiny_model_path
from cookbook_tui.common.tiny_model_name import TINY_MODEL_NAME, TINY_MODEL_RENDERER

# What `learning_rate = "auto"` means for the tiny model: hyperparam_utils.get_lr only knows the
# Llama and Qwen families. 1e-3 is between the bundled recipes' SFT (3e-3) and RL (5e-4) rates.
TINY_MODEL_LR = 1e-3


def _names_tiny(model_name: str) -> bool:
    base = model_name.split(":", 1)[0]
    return base == TINY_MODEL_NAME or (base.startswith(("/", "~")) and Path(base).expanduser() == tiny_model_path())


def register_with_cookbook() -> None:
    """Teach tinker_cookbook.model_info (recommended renderer, chat or base) and
    hyperparam_utils.get_lr about the tiny model, in this process only: entry points that look
    the model up by name (math_rl's renderer default, rl_basic, sl_basic) then work with it.
    Both modules call `get_model_attributes` / `get_lr` through their module globals, so wrapping
    those two names covers every caller; site-packages is never edited."""
    from tinker_cookbook import hyperparam_utils, model_info

    if getattr(model_info.get_model_attributes, "_knows_tiny_model", False):
        return
    attributes = model_info.ModelAttributes(
        organization="cookbook-tui",
        version_str=TINY_MODEL_BUILD,
        size_str="1M",
        is_chat=True,
        recommended_renderers=(TINY_MODEL_RENDERER,),
    )
    original_attributes = model_info.get_model_attributes
    original_lr = hyperparam_utils.get_lr

    def get_model_attributes(model_name: str) -> model_info.ModelAttributes:
        return attributes if _names_tiny(model_name) else original_attributes(model_name)

    def get_lr(model_name: str, is_lora: bool = True) -> float:
        return TINY_MODEL_LR if _names_tiny(model_name) else original_lr(model_name, is_lora)

    get_model_attributes.__doc__ = original_attributes.__doc__
    get_model_attributes._knows_tiny_model = True  # type: ignore[attr-defined]
    model_info.get_model_attributes = get_model_attributes
    hyperparam_utils.get_lr = get_lr
