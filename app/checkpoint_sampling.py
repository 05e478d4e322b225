"""Sampling one reply from a run's checkpoint, for the run screen's chat box.

Called from a thread worker only: tinker, tinker-cookbook and (for the local backend) the engine
are imported here, inside the function, so the app's start-up never pays for them. The model and
renderer come from the run's recipe.toml; the local engine finds the checkpoint in its data dir,
as the run that wrote it did.
"""

from __future__ import annotations

from pathlib import Path

REPLY_MAX_TOKENS = 64


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

    from cookbook_tui.runners.backends import open_backend

    with open_backend(recipe) as base_url:
        service = tinker.ServiceClient(base_url=base_url)
        sampler = service.create_sampling_client(model_path=sampler_path).result()
        renderer = renderers.get_renderer(recipe.settings["model"]["renderer"], get_tokenizer(recipe.model_name))
        model_input = renderer.build_generation_prompt([{"role": "user", "content": prompt}])
        params = tinker.SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=renderer.get_stop_sequences())
        response = sampler.sample(model_input, num_samples=1, sampling_params=params).result()
        message, _ = renderer.parse_response(response.sequences[0].tokens)
        return renderers.get_text_content(message).strip()
