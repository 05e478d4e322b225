"""Sampling one reply from a run's checkpoint, for the run screen's chat box.

Called from a thread worker only: tinker, tinker-cookbook and (for the local backend) the engine
are imported here, inside the function, so the app's start-up never pays for them. The model and
renderer come from the run's recipe.toml; the local engine finds the checkpoint in its data dir,
as the run that wrote it did.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

REPLY_MAX_TOKENS = 64
# Our deadline on each SDK future: a wedged service fails the chat, not the app.
REPLY_TIMEOUT_S = 120.0

# One local engine and one SDK client per app process, started on the first chat message: the
# engine keeps the base model loaded, so later replies take a sampling call, not an engine start
# (measured 8-12 s a reply before). Both end with the process.
_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


class ChatUnavailable(Exception):
    """This run dir does not say which model and renderer its checkpoints need."""


def sample_reply(run_dir: Path, sampler_path: str, prompt: str, max_tokens: int = REPLY_MAX_TOKENS) -> str:
    from cookbook_tui.recipes import load_recipe

    recipe_file = run_dir / "recipe.toml"
    if not recipe_file.exists():
        raise ChatUnavailable(f"{run_dir} has no recipe.toml, so the model and renderer are unknown")
    recipe = load_recipe(recipe_file)

    import tinker
    from tinker_cookbook import renderers
    from tinker_cookbook.tokenizer_utils import get_tokenizer

    service = _service_client(recipe)
    sampler = service.create_sampling_client(model_path=sampler_path)
    if recipe.renderer_name is None:
        raise ChatUnavailable(f"{recipe_file} names no renderer for {recipe.model_name}")
    renderer = renderers.get_renderer(recipe.renderer_name, get_tokenizer(recipe.model_name))
    model_input = renderer.build_generation_prompt([{"role": "user", "content": prompt}])
    params = tinker.SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=renderer.get_stop_sequences())
    response = sampler.sample(model_input, num_samples=1, sampling_params=params).result(timeout=REPLY_TIMEOUT_S)
    message, _ = renderer.parse_response(response.sequences[0].tokens)
    return renderers.get_text_content(message).strip()


def _service_client(recipe: Any) -> Any:
    """The SDK client for the recipe's backend: the shared local engine, or the Tinker service
    (probed first with our deadline: the SDK alone retries an unreachable service for minutes)."""
    import os

    import tinker

    from cookbook_tui.runners.backends import BackendError, probe_service

    if recipe.backend == "tinker":
        if not os.environ.get("TINKER_API_KEY"):
            raise BackendError("chatting with a Tinker checkpoint needs the TINKER_API_KEY environment variable")
        probe_service(os.environ.get("TINKER_BASE_URL") or None)
        key = "tinker"
    else:
        key = "local"
    with _shared_lock:
        if key not in _shared:
            if key == "local":
                from cookbook_tui.runners.engine import start_local_server
                from cookbook_tui.runners.tiny_model import set_offline_env

                set_offline_env()
                server = start_local_server()
                _shared["local-server"] = server
                _shared[key] = tinker.ServiceClient(base_url=server.base_url, api_key=server.api_key)
            else:
                _shared[key] = tinker.ServiceClient()
        return _shared[key]
