"""Engine sampling: stop sequences, seeds, logprobs that agree with the training forward pass."""

from __future__ import annotations

import numpy as np
import pytest
from tinker import types

from cookbook_tui.engine.engine import Engine, EngineError

TINY = "cookbook-tui/tiny-chat"
MODEL = "sess:train:0"


def _prompt(tokenizer, text="3+4=") -> types.ModelInput:
    return types.ModelInput.from_ints(tokenizer.encode(text, add_special_tokens=False))


def _trained_sampler(engine, data, name=None, sampler_id="sampler-1"):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8))
    for _ in range(3):
        engine.forward_backward(MODEL, data, "cross_entropy")
        engine.optim_step(MODEL, types.AdamParams(learning_rate=3e-3))
    path = engine.save_sampler_weights(MODEL, name)
    engine.create_sampler(sampler_id, model_path=path)
    return sampler_id


def _forward_logprobs(engine, tokens: list[int]) -> np.ndarray:
    """Training-side logprobs of tokens[1:] given their prefixes."""
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": np.asarray(tokens[1:], dtype=np.int64)},
    )
    out = engine.forward_backward(MODEL, [datum], "cross_entropy", forward_only=True)
    return out.loss_fn_outputs[0]["logprobs"].to_numpy()


def test_stop_string_ends_the_completion_where_it_first_appears(engine, tiny_tokenizer):
    engine.create_sampler("base", base_model=TINY)
    prompt = _prompt(tiny_tokenizer)
    free = engine.sample("base", prompt, 1, types.SamplingParams(max_tokens=16, temperature=0, stop=[]))
    tokens = free.sequences[0].tokens
    assert len(tokens) == 16 and free.sequences[0].stop_reason == "length"
    stop = tiny_tokenizer.decode(tokens[5:7])
    stopped = engine.sample("base", prompt, 1, types.SamplingParams(max_tokens=16, temperature=0, stop=[stop]))
    seq = stopped.sequences[0]
    assert seq.stop_reason == "stop"
    assert seq.tokens == tokens[: len(seq.tokens)]  # a prefix of the free run, ending at the stop
    text = tiny_tokenizer.decode(seq.tokens)
    assert text.endswith(stop) or stop in text[-len(stop) - 4 :]
    assert stop not in tiny_tokenizer.decode(seq.tokens[:-1])

    by_id = engine.sample("base", prompt, 1, types.SamplingParams(max_tokens=16, temperature=0, stop=[tokens[9]]))
    assert by_id.sequences[0].tokens == tokens[: tokens.index(tokens[9]) + 1]
    assert by_id.sequences[0].stop_reason == "stop"


def test_a_trained_model_stops_at_im_end_and_decodes(trained_addition, tiny_tokenizer):
    engine, model_id, _, _ = trained_addition
    engine.create_sampler("im-end", model_path=engine.save_sampler_weights(model_id, None))
    end = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    params = types.SamplingParams(max_tokens=8, temperature=0, stop=[end])
    out = engine.sample("im-end", _prompt(tiny_tokenizer, "2+1="), 4, params)
    for seq in out.sequences:
        assert seq.stop_reason == "stop" and seq.tokens[-1] == end
        assert tiny_tokenizer.decode(seq.tokens) == "3<|im_end|>"


def test_same_seed_same_samples(engine, tiny_tokenizer):
    engine.create_sampler("base", base_model=TINY)
    params = types.SamplingParams(max_tokens=12, temperature=1.0, seed=1234, stop=[])
    first = engine.sample("base", _prompt(tiny_tokenizer), 4, params)
    again = Engine(engine.data_dir, device="cpu", seed=99)
    again.create_sampler("base", base_model=TINY)
    second = again.sample("base", _prompt(tiny_tokenizer), 4, params)
    assert [s.tokens for s in first.sequences] == [s.tokens for s in second.sequences]
    assert len({tuple(s.tokens) for s in first.sequences}) > 1  # the 4 samples are distinct draws
    other = engine.sample("base", _prompt(tiny_tokenizer), 4, params.model_copy(update={"seed": 4321}))
    assert [s.tokens for s in other.sequences] != [s.tokens for s in first.sequences]


def test_sampled_logprobs_match_the_training_forward(engine, tiny_tokenizer, addition_data):
    sampler = _trained_sampler(engine, addition_data)
    prompt = _prompt(tiny_tokenizer)
    out = engine.sample(sampler, prompt, 3, types.SamplingParams(max_tokens=10, temperature=1.0, seed=7, stop=[]))
    for seq in out.sequences:
        full = prompt.to_ints() + seq.tokens
        expected = _forward_logprobs(engine, full)[-len(seq.tokens) :]
        np.testing.assert_allclose(seq.logprobs, expected, atol=2e-4)


def test_prompt_logprobs_equal_forward_logprobs(engine, tiny_tokenizer, addition_data):
    """What SamplingClient.compute_logprobs does: max_tokens=1 plus prompt logprobs."""
    sampler = _trained_sampler(engine, addition_data, name="for-sampling")
    tokens = tiny_tokenizer.encode("<|im_start|>user\n2+2=<|im_end|>", add_special_tokens=False)
    out = engine.sample(
        sampler,
        types.ModelInput.from_ints(tokens),
        1,
        types.SamplingParams(max_tokens=1),
        include_prompt_logprobs=True,
        topk_prompt_logprobs=3,
    )
    assert out.prompt_logprobs[0] is None
    np.testing.assert_allclose(out.prompt_logprobs[1:], _forward_logprobs(engine, tokens), atol=2e-5)
    topk = out.topk_prompt_logprobs
    assert topk[0] is None and all(len(row) == 3 for row in topk[1:])
    assert all(row[0][1] >= out.prompt_logprobs[i + 1] for i, row in enumerate(topk[1:]))
    last = engine.sample(
        sampler, types.ModelInput.from_ints(tokens), 1, types.SamplingParams(max_tokens=1),
        include_prompt_logprobs=True, prompt_logprobs_last_n=2,
    )
    assert last.prompt_logprobs[:-2] == [None] * (len(tokens) - 2)
    assert last.prompt_logprobs[-2:] == pytest.approx(out.prompt_logprobs[-2:], abs=1e-6)


def test_greedy_and_top_k_one_agree_and_length_stop(engine, tiny_tokenizer):
    engine.create_sampler("base", base_model=TINY)
    prompt = _prompt(tiny_tokenizer)
    greedy = engine.sample("base", prompt, 2, types.SamplingParams(max_tokens=6, temperature=0, stop=[]))
    top1 = engine.sample("base", prompt, 2, types.SamplingParams(max_tokens=6, top_k=1, seed=3, stop=[]))
    nucleus = engine.sample("base", prompt, 2, types.SamplingParams(max_tokens=6, top_p=1e-6, seed=3, stop=[]))
    assert greedy.sequences[0].tokens == greedy.sequences[1].tokens == top1.sequences[0].tokens
    assert nucleus.sequences[1].tokens == greedy.sequences[0].tokens
    assert all(s.stop_reason == "length" and len(s.tokens) == 6 for s in greedy.sequences)
    with pytest.raises(EngineError, match="exceeds the model's context length 4096"):
        engine.sample("base", prompt, 1, types.SamplingParams(max_tokens=5000))
    with pytest.raises(EngineError, match="top_p must be in"):
        engine.sample("base", prompt, 1, types.SamplingParams(max_tokens=2, top_p=0))


def test_samplers_keep_their_weights_when_evicted_from_memory(engine, tiny_tokenizer, addition_data):
    engine.adapters.keep = 1  # every new adapter pushes the previous one out (to disk)
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8))
    params = types.SamplingParams(max_tokens=6, temperature=0, stop=[])
    prompt = _prompt(tiny_tokenizer, "1+2=")

    def snapshot(sampler_id, name=None):
        engine.create_sampler(sampler_id, model_path=engine.save_sampler_weights(MODEL, name))
        return engine.sample(sampler_id, prompt, 1, params).sequences[0].logprobs

    first = snapshot("first")
    for _ in range(3):
        engine.forward_backward(MODEL, addition_data, "cross_entropy")
        engine.optim_step(MODEL, types.AdamParams(learning_rate=1e-2))
    second = snapshot("second")
    named = snapshot("named", "n")
    assert second == named and second != first
    assert engine.sample("first", prompt, 1, params).sequences[0].logprobs == first
    assert engine.sample("second", prompt, 1, params).sequences[0].logprobs == second
