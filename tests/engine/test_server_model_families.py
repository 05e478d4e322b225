"""The model families Tinker serves (Llama 3, Qwen3, Qwen3-MoE, GPT-OSS), as small random-weight
local folders with our tokenizer, trained, sampled, saved and reloaded through the unmodified SDK
against the local server; and tinker-cookbook's `sample_decision` (target_prompt_logprobs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from server_helpers import SDK_TIMEOUT, TINY, local_server, service_client, wait_healthy  # noqa: F401 (fixtures)

pytestmark = pytest.mark.xdist_group("server-families")


def _data(tokenizer):
    from tinker import types

    data = []
    for a, b in ((1, 2), (3, 4), (2, 2), (4, 1)):
        ids = tokenizer.encode(f"{a}+{b}={a + b};", add_special_tokens=False)
        data.append(
            types.Datum(
                model_input=types.ModelInput.from_ints(ids[:-1]),
                loss_fn_inputs={"target_tokens": ids[1:], "weights": [1.0] * (len(ids) - 1)},
            )
        )
    return data


def _logprobs(client, data) -> list[np.ndarray]:
    output = client.forward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
    return [out["logprobs"].to_numpy().copy() for out in output.loss_fn_outputs]


@pytest.fixture(scope="module")
def family_root(tmp_path_factory, tiny_model_path: Path) -> Path:
    return tmp_path_factory.mktemp("families")


@pytest.mark.parametrize("family", ["llama3", "qwen3", "qwen3_moe", "gpt_oss"])
def test_a_family_trains_samples_saves_and_reloads_through_the_sdk(
    family, family_root, service_client, local_server, tiny_tokenizer
):
    from safetensors.torch import load_file
    from tinker import types

    from cookbook_tui.engine.model_families import family_folder

    folder = str(family_folder(family, family_root))
    client = service_client.create_lora_training_client(base_model=folder, rank=4, seed=0).result(
        timeout=SDK_TIMEOUT
    )
    data = _data(tiny_tokenizer)
    losses = []
    for _ in range(6):
        out = client.forward_backward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
        client.optim_step(types.AdamParams(learning_rate=2e-2)).result(timeout=SDK_TIMEOUT)
        losses.append(out.metrics["loss:sum"])
    assert losses[-1] < 0.7 * losses[0], losses

    sampler = client.save_weights_and_get_sampling_client().result(timeout=SDK_TIMEOUT)
    prompt = types.ModelInput.from_ints(tiny_tokenizer.encode("1+2=", add_special_tokens=False))
    params = types.SamplingParams(max_tokens=6, seed=3, stop=[])
    sampled = sampler.sample(prompt, num_samples=3, sampling_params=params).result(timeout=SDK_TIMEOUT)
    assert [len(s.tokens) for s in sampled.sequences] == [6, 6, 6]

    path = client.save_state(f"{family}-state").result(timeout=SDK_TIMEOUT).path
    restored = service_client.create_training_client_from_state(path).result(timeout=SDK_TIMEOUT)
    for ours, theirs in zip(_logprobs(client, data), _logprobs(restored, data), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    named = client.save_weights_for_sampler(f"{family}-sampler").result(timeout=SDK_TIMEOUT).path
    again = service_client.create_sampling_client(model_path=named).result(timeout=SDK_TIMEOUT)
    resampled = again.sample(prompt, num_samples=3, sampling_params=params).result(timeout=SDK_TIMEOUT)
    assert [list(s.tokens) for s in resampled.sequences] == [list(s.tokens) for s in sampled.sequences]

    if family in ("qwen3_moe", "gpt_oss"):
        # LoRA reaches the fused expert weights (peft target_parameters) and training moved them.
        files = list(Path(local_server.data_dir).rglob(f"{family}-state/*.safetensors"))
        assert files, list(Path(local_server.data_dir).rglob("*.safetensors"))
        tensors = load_file(str(files[0]))
        expert_b = [t for k, t in tensors.items() if ".experts." in k and "lora_B" in k]
        assert expert_b and all(float(t.abs().sum()) > 0 for t in expert_b)


def test_sample_decision_scores_the_labels_as_forward_logprobs_do(service_client, tiny_tokenizer):
    import tinker
    from tinker_cookbook.recipes.decisions import sample_decision
    from tinker_cookbook.recipes.decisions.decision import DecisionRendering

    sampler = service_client.create_sampling_client(base_model=TINY).result(timeout=SDK_TIMEOUT)
    tokens = tiny_tokenizer.encode("Pick one: choice#A or choice#B? Answer: choice#", add_special_tokens=False)
    labels = {"A": tiny_tokenizer.convert_tokens_to_ids("A"), "B": tiny_tokenizer.convert_tokens_to_ids("B")}
    rendering = DecisionRendering(tokens=tokens + [0], choice_pos=len(tokens), label_tokens=labels)
    probabilities = asyncio.run(sample_decision(sampler, rendering))
    assert set(probabilities) == {"A", "B"} and sum(probabilities.values()) == pytest.approx(1.0)
    # The same softmax from the label tokens' prompt logprobs of the completed prompts.
    logprobs = [
        sampler.compute_logprobs(tinker.ModelInput.from_ints(rendering.with_label(label))).result(
            timeout=SDK_TIMEOUT
        )[rendering.choice_pos]
        for label in labels
    ]
    expected = np.exp(logprobs) / np.exp(logprobs).sum()
    assert [probabilities[label] for label in labels] == pytest.approx(list(expected), abs=1e-5)


def test_top_k_sample_logprobs_and_prompt_alt_tokens_cross_the_wire(service_client, tiny_tokenizer):
    import tinker

    sampler = service_client.create_sampling_client(base_model=TINY).result(timeout=SDK_TIMEOUT)
    prompt = tinker.ModelInput.from_ints(tiny_tokenizer.encode("1+2=3;", add_special_tokens=False))
    response = sampler.sample(
        prompt,
        num_samples=2,
        sampling_params=tinker.SamplingParams(max_tokens=3, temperature=0.0, stop=[]),
        topk_sample_logprobs=4,
        prompt_alt_tokens_k=2,
    ).result(timeout=SDK_TIMEOUT)
    for seq in response.sequences:
        assert [row[0] for row in seq.topk_logprobs] == [
            (token, pytest.approx(lp, abs=1e-5)) for token, lp in zip(seq.tokens, seq.logprobs, strict=True)
        ]
    alt = response.prompt_alt_tokens
    assert alt.tokens.shape == [prompt.length - 1, 2] and alt.logprobs.shape == [prompt.length - 1, 2]
