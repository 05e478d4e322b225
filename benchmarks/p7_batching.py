"""P7: sampling across requests. 16 concurrent requests x 4 samples x 32 tokens (16 different
prompts, as an RL step's groups) against one request of 64 samples, new tokens/s, on one engine.
Goal: ratio >= 0.8.

Two rows per model:
- `Engine.sample_batch` given the 16 jobs at once, as the server's scheduler hands them over;
- through the SDK on the local server, 16 requests in flight at once, which the server's
  scheduler hands to `sample_batch` together."""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .common import Comparison, Result, llama_30m_folder, median, offline_env

REQUESTS, SAMPLES, MAX_TOKENS = 16, 4, 32


def _prompts(tokenizer) -> list[list[int]]:
    texts = [f"<|im_start|>user\nWhat is {a} + {a * 7 % 10}?{' Think.' * (a % 4)}<|im_end|>\n" for a in range(REQUESTS)]
    return [tokenizer.encode(text, add_special_tokens=False) for text in texts]


def engine_rates(engine, sampler_id: str, prompts: list[list[int]], repeats: int) -> tuple[float, float]:
    from tinker import types

    from cookbook_tui.engine.sample_jobs import SampleJob

    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=1.0, stop=[])

    def run(requests: list[types.SampleRequest]) -> float:
        answers: list = []
        start = time.perf_counter()
        engine.sample_batch([SampleJob(sampler_id, r, answers.append) for r in requests])
        elapsed = time.perf_counter() - start
        assert all(not isinstance(a, BaseException) for a in answers), answers
        return sum(len(s.tokens) for a in answers for s in a.sequences) / elapsed

    many = [
        types.SampleRequest(prompt=types.ModelInput.from_ints(p), num_samples=SAMPLES, sampling_params=params)
        for p in prompts
    ]
    one = [
        types.SampleRequest(
            prompt=types.ModelInput.from_ints(prompts[0]), num_samples=REQUESTS * SAMPLES, sampling_params=params
        )
    ]
    run(one)  # warm-up
    ours = [run(many) for _ in range(repeats)]
    ref = [run(one) for _ in range(repeats)]
    return median(ours), median(ref)


def sdk_rates(base_url: str, api_key: str, model: str, prompts: list[list[int]], repeats: int) -> tuple[float, float]:
    import tinker
    from tinker import types

    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    sampler = service.create_sampling_client(base_model=model).result(timeout=600)
    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=1.0, stop=[])

    def run(jobs: list[tuple[list[int], int]]) -> float:
        start = time.perf_counter()
        futures = [
            sampler.sample(types.ModelInput.from_ints(p), num_samples=n, sampling_params=params) for p, n in jobs
        ]
        with ThreadPoolExecutor(len(futures)) as pool:
            outs = list(pool.map(lambda f: f.result(timeout=600), futures))
        elapsed = time.perf_counter() - start
        return sum(len(s.tokens) for o in outs for s in o.sequences) / elapsed

    many = [(p, SAMPLES) for p in prompts]
    one = [(prompts[0], REQUESTS * SAMPLES)]
    run(one)
    ours = [run(many) for _ in range(repeats)]
    ref = [run(one) for _ in range(repeats)]
    service.close("success").result(timeout=30)  # no heartbeats to a server that stops next
    return median(ours), median(ref)


def run(quick: bool = False) -> Result:
    offline_env()
    import torch
    from transformers import AutoTokenizer

    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME, ensure_tiny_model
    from cookbook_tui.engine import start_local_server
    from cookbook_tui.engine.engine import Engine

    result = Result(
        benchmark="p7_batching",
        title=f"{REQUESTS} concurrent requests x {SAMPLES} samples x {MAX_TOKENS} tokens vs one "
        f"{REQUESTS * SAMPLES}-sample request, new tokens/s",
        ours_label=f"{REQUESTS} requests",
        reference_label="one request",
    )
    work = Path(tempfile.mkdtemp(prefix="bench-p7-"))
    tiny = str(ensure_tiny_model())
    prompts = _prompts(AutoTokenizer.from_pretrained(tiny))
    models = [("tiny ~1M", TINY_MODEL_NAME)]
    if not quick:
        models.append(("llama ~30M", str(llama_30m_folder(work))))
    repeats = 2 if quick else 3
    engine = Engine(work / "engine-data")
    with start_local_server(data_dir=work / "data", torch_threads=torch.get_num_threads()) as server:
        for label, name in models:
            engine.create_sampler(f"p7-{label}", base_model=name)
            ours, ref = engine_rates(engine, f"p7-{label}", prompts, repeats)
            result.rows.append(
                Comparison(case=f"{label}, Engine.sample_batch", unit="new tokens/s", ours=ours, reference=ref,
                           goal=">= 0.8", notes=f"median of {repeats}")
            )
            ours, ref = sdk_rates(server.base_url, server.api_key, name, prompts, repeats)
            result.rows.append(
                Comparison(case=f"{label}, SDK -> server", unit="new tokens/s", ours=ours, reference=ref,
                           goal=">= 0.8", notes=f"median of {repeats}; the scheduler hands concurrent "
                           "requests to sample_batch together")
            )
    result.details["analysis"] = (
        "Requests on one base decode as one batch (engine/sampling.py DecodeBatch): the "
        "requests that join at a step boundary are prefilled in one left-padded forward, their rows "
        "join the running (buffered) KV cache, and each leaves the batch when done; rows may use "
        "different LoRA adapters (peft mixed-adapter batches). The SDK rows go through the server: its "
        "scheduler gathers requests arriving together (up to 20 ms) into one Engine.sample_batch "
        "and later ones join at step boundaries; the SDK's HTTP and protobuf work per request is "
        "what separates them from the engine rows."
    )
    return result
