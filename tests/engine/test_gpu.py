"""The CUDA path: bf16 base weights, float32 LoRA weights and AdamW state, training that learns,
sampling that is batch-invariant, checkpoints that reload to the same outputs. Skipped without
CUDA (tests/conftest.py)."""

from __future__ import annotations

import pytest
import torch
from tinker import types

from cookbook_tui.engine.sample_jobs import SampleJob

pytestmark = pytest.mark.gpu

TINY = "cookbook-tui/tiny-chat"


@pytest.fixture
def cuda_engine(engine_dir, tiny_model_path):
    from cookbook_tui.engine.engine import Engine

    return Engine(engine_dir, device="cuda", seed=0)


def test_cuda_weights_are_bf16_and_adapters_fp32_and_training_learns(cuda_engine, addition_data):
    engine = cuda_engine
    engine.create_model("m", TINY, types.LoraConfig(rank=8))
    base = engine.bases.get(TINY)
    assert base.model.get_input_embeddings().weight.dtype == torch.bfloat16
    assert base.model.get_input_embeddings().weight.device.type == "cuda"
    state = engine._training("m").state
    assert state and all(p.dtype == torch.float32 and p.device.type == "cuda" for p in state.values())
    losses = []
    for _ in range(30):
        out = engine.forward_backward("m", addition_data, "cross_entropy")
        engine.optim_step("m", types.AdamParams(learning_rate=3e-3))
        losses.append(out.metrics["loss:sum"])
    assert losses[-1] < 0.5 * losses[0], losses
    moments = [s for v in engine._training("m").optimizer.state.values() for s in v.values() if s.dim()]
    assert moments and all(s.dtype == torch.float32 for s in moments)

    path = engine.save_state("m", "gpu")
    engine.create_model_from_state("m2", path, with_optimizer=True)
    for a, b in zip(
        engine.forward_backward("m", addition_data, "cross_entropy", forward_only=True).loss_fn_outputs,
        engine.forward_backward("m2", addition_data, "cross_entropy", forward_only=True).loss_fn_outputs,
        strict=True,
    ):
        assert torch.equal(a["logprobs"].to_torch(), b["logprobs"].to_torch())


def test_cuda_sampling_is_batch_invariant(cuda_engine, tiny_tokenizer):
    engine = cuda_engine
    engine.create_sampler("base", base_model=TINY)
    requests = [
        types.SampleRequest(
            prompt=types.ModelInput.from_ints(tiny_tokenizer.encode(text, add_special_tokens=False)),
            num_samples=4,
            sampling_params=types.SamplingParams(max_tokens=12, seed=i, temperature=0.8, top_p=0.95 if i else 1.0),
        )
        for i, text in enumerate(["1+2=", "hello there 3+4=", "7"])
    ]
    alone = [[list(s.tokens) for s in engine.sample_request("base", r).sequences] for r in requests]
    answers: dict[int, object] = {}
    jobs = [SampleJob("base", r, lambda x, i=i: answers.__setitem__(i, x)) for i, r in enumerate(requests)]
    engine.sample_batch(jobs)
    batched = [[list(s.tokens) for s in answers[i].sequences] for i in range(3)]
    # bf16 matmuls may round differently at another batch size (cuBLAS picks kernels by shape), so
    # a near-tie can flip a token on CUDA: most rows, not all, must match (on the CPU all do).
    rows = [(a == b) for ra, rb in zip(alone, batched, strict=True) for a, b in zip(ra, rb, strict=True)]
    assert sum(rows) >= len(rows) - 2, (alone, batched)
