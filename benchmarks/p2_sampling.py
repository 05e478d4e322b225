"""P2: sampling new tokens/s for num_samples=16 through the SDK vs `model.generate` on the same
model and prompt. Goal: ratio >= 1.0."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .common import Comparison, Result, bench_device, llama_30m_folder, median, offline_env, reference_dtype, timed

NUM_SAMPLES, MAX_TOKENS = 16, 64
PROMPT = "<|im_start|>user\nWhat is 3 + 4?<|im_end|>\n<|im_start|>assistant\n"


def sdk_sample(base_url: str, api_key: str, model: str, prompt_ids: list[int], repeats: int) -> tuple[list[float], list[int]]:
    import tinker
    from tinker import types

    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    sampler = service.create_sampling_client(base_model=model)
    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=1.0, stop=[])
    counts: list[int] = []

    def once() -> None:
        out = sampler.sample(types.ModelInput.from_ints(prompt_ids), num_samples=NUM_SAMPLES, sampling_params=params).result(timeout=600)
        counts.append(sum(len(s.tokens) for s in out.sequences))

    times = timed(once, repeats=repeats, warmup=1)
    return times, counts[1:]


def generate_times(model_path: str, prompt_ids: list[int], repeats: int) -> tuple[list[float], list[int]]:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=reference_dtype()).to(bench_device())
    model.eval()
    inputs = torch.tensor([prompt_ids], device=bench_device())
    counts: list[int] = []

    def once() -> None:
        with torch.inference_mode():
            out = model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                do_sample=True,
                temperature=1.0,
                top_k=0,
                max_new_tokens=MAX_TOKENS,
                min_new_tokens=MAX_TOKENS,
                num_return_sequences=NUM_SAMPLES,
                pad_token_id=model.config.pad_token_id,
            )
        counts.append((out.shape[1] - inputs.shape[1]) * NUM_SAMPLES)

    times = timed(once, repeats=repeats, warmup=1)
    return times, counts[1:]


def run(quick: bool = False) -> Result:
    offline_env()
    import torch
    from transformers import AutoTokenizer

    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME, ensure_tiny_model
    from cookbook_tui.engine import start_local_server

    result = Result(
        benchmark="p2_sampling",
        title=f"sampling new tokens/s, num_samples={NUM_SAMPLES}, max_tokens={MAX_TOKENS}",
        ours_label="engine via SDK",
        reference_label="model.generate",
    )
    work = Path(tempfile.mkdtemp(prefix="bench-p2-"))
    tiny = str(ensure_tiny_model())
    prompt_ids = AutoTokenizer.from_pretrained(tiny).encode(PROMPT, add_special_tokens=False)
    models = [("tiny ~1M", TINY_MODEL_NAME, tiny)]
    if not quick:
        folder = str(llama_30m_folder(work))
        models.append(("llama ~30M", folder, folder))
    repeats = 3 if quick else 8
    with start_local_server(data_dir=work / "data", torch_threads=torch.get_num_threads()) as server:
        for label, name, path in models:
            ours_t, ours_n = sdk_sample(server.base_url, server.api_key, name, prompt_ids, repeats)
            ref_t, ref_n = generate_times(path, prompt_ids, repeats)
            ours_rate = sum(ours_n) / sum(ours_t)
            ref_rate = sum(ref_n) / sum(ref_t)
            result.rows.append(
                Comparison(
                    case=label,
                    unit="new tokens/s",
                    ours=ours_rate,
                    reference=ref_rate,
                    goal=">= 1.25 on 30M (issue 15)",
                    notes=f"{repeats} calls; median s ours {median(ours_t):.3f}, ref {median(ref_t):.3f}; "
                    f"tokens/call ours {sum(ours_n) / len(ours_n):.0f}, ref {sum(ref_n) / len(ref_n):.0f}",
                )
            )
    return result
