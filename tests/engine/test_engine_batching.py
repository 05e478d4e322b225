"""Sampling across requests (`Engine.sample_batch`): requests on one base decode together, join at
step boundaries and leave when done, across LoRA adapters, each with its own params and seed;
one copy of the base weights behind every training model and sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tinker import types
from tinker.types._pydantic_types.tensor_data import TensorData as RequestTensor  # the request's own type

from cookbook_tui.engine.sample_jobs import SampleCancelled, SampleJob

TINY = "cookbook-tui/tiny-chat"
ADAM = types.AdamParams(learning_rate=3e-2)


def _prompt(tokenizer, text: str) -> types.ModelInput:
    return types.ModelInput.from_ints(tokenizer.encode(text, add_special_tokens=False))


def _request(tokenizer, text, n=2, **params) -> types.SampleRequest:
    params.setdefault("max_tokens", 8)
    return types.SampleRequest(
        prompt=_prompt(tokenizer, text), num_samples=n, sampling_params=types.SamplingParams(**params)
    )


def _tokens(response) -> list[list[int]]:
    assert not isinstance(response, BaseException), response
    return [list(s.tokens) for s in response.sequences]


@pytest.fixture
def samplers(engine, addition_data):
    """A base sampler and samplers of two differently trained adapters (rank 8 and rank 4)."""
    engine.create_sampler("base", base_model=TINY)
    for model_id, rank in (("a", 8), ("b", 4)):
        engine.create_model(model_id, TINY, types.LoraConfig(rank=rank, seed=rank))
        for _ in range(3):
            engine.forward_backward(model_id, addition_data[: 4 * rank // 4], "cross_entropy")
            engine.optim_step(model_id, ADAM)
        engine.create_sampler(f"s-{model_id}", model_path=engine.save_sampler_weights(model_id, None))
    return engine


def test_a_seeded_request_gives_the_same_tokens_whatever_it_is_batched_with(samplers, tiny_tokenizer):
    engine = samplers
    cases = [
        ("base", _request(tiny_tokenizer, "1+2=", n=3, seed=11, temperature=1.0)),
        ("s-a", _request(tiny_tokenizer, "hello there, 12+3", n=2, seed=12, temperature=0.7, top_p=0.9)),
        ("s-b", _request(tiny_tokenizer, "7", n=4, seed=13, temperature=1.3, top_k=20, max_tokens=5)),
        ("s-a", _request(tiny_tokenizer, "a longer prompt than the others, 3+4=", n=1, temperature=0.0)),
    ]
    alone = [_tokens(engine.sample_request(sid, req)) for sid, req in cases]
    # The three adapters give different completions for one seeded prompt: the batch mixes them.
    same = [_tokens(engine.sample_request(s, cases[0][1])) for s in ("base", "s-a", "s-b")]
    assert same[0] != same[1] and same[1] != same[2]

    answers: dict[int, object] = {}
    jobs = [SampleJob(sid, req, lambda r, i=i: answers.__setitem__(i, r)) for i, (sid, req) in enumerate(cases)]
    engine.sample_batch(jobs[:2], take_more=_joiner([[], [jobs[2]], [], [jobs[3]]]))
    assert [_tokens(answers[i]) for i in range(len(cases))] == alone


def test_rows_that_stop_leave_while_the_others_go_on(samplers, tiny_tokenizer):
    """Stop tokens covering a quarter of the vocabulary end rows at different steps; rows that
    stopped leave the batch, and every request still gets what it gets alone."""
    engine = samplers
    stop = list(range(128))
    cases = [
        ("base", _request(tiny_tokenizer, "1+2=", n=6, seed=21, temperature=1.0, stop=stop, max_tokens=12)),
        ("s-a", _request(tiny_tokenizer, "9+9=", n=5, seed=22, temperature=1.0, stop=stop, max_tokens=12)),
    ]
    alone = [_tokens(engine.sample_request(sid, req)) for sid, req in cases]
    lengths = {len(row) for rows in alone for row in rows}
    assert len(lengths) >= 3, alone  # rows of one request really end at different steps
    answers: dict[int, object] = {}
    jobs = [SampleJob(sid, req, lambda r, i=i: answers.__setitem__(i, r)) for i, (sid, req) in enumerate(cases)]
    engine.sample_batch(jobs)
    assert [_tokens(answers[i]) for i in range(len(cases))] == alone


def _joiner(rounds: list[list[SampleJob]]):
    """take_more() that hands out one list per step boundary."""
    queue = list(rounds)
    return lambda: queue.pop(0) if queue else []


def test_a_short_request_leaves_the_batch_before_a_long_one_finishes(samplers, tiny_tokenizer):
    engine = samplers
    order: list[str] = []
    steps = {"n": 0}

    def take_more() -> list[SampleJob]:
        steps["n"] += 1
        return []

    long = SampleJob("base", _request(tiny_tokenizer, "1+1=", max_tokens=20, stop=[], seed=1),
                     lambda r: order.append(f"long@{steps['n']}"))
    short = SampleJob("s-a", _request(tiny_tokenizer, "2+2=", max_tokens=2, stop=[], seed=2),
                      lambda r: order.append(f"short@{steps['n']}"))
    engine.sample_batch([long, short], take_more)
    assert order == ["short@1", "long@19"]


def test_cancelled_and_bad_jobs_are_answered_alone(samplers, tiny_tokenizer):
    engine = samplers
    answers: dict[str, object] = {}
    flag = {"cancel": False}
    ok = SampleJob("base", _request(tiny_tokenizer, "1+2=", max_tokens=6, stop=[], seed=3),
                   lambda r: answers.__setitem__("ok", r))
    bad = SampleJob("base", _request(tiny_tokenizer, "1+2=", temperature=-1.0), lambda r: answers.__setitem__("bad", r))
    unknown = SampleJob("nope", _request(tiny_tokenizer, "1"), lambda r: answers.__setitem__("unknown", r))
    gone = SampleJob("s-b", _request(tiny_tokenizer, "3+3=", max_tokens=6, stop=[], seed=4),
                     lambda r: answers.__setitem__("gone", r), is_cancelled=lambda: flag["cancel"])

    def take_more():
        flag["cancel"] = True
        return []

    engine.sample_batch([ok, bad, unknown, gone], take_more)
    assert "temperature" in str(answers["bad"])
    assert "nope" in str(answers["unknown"])
    assert isinstance(answers["gone"], SampleCancelled)
    assert _tokens(answers["ok"]) == _tokens(engine.sample_request("base", ok.request))


def test_top_k_sample_target_prompt_logprobs_and_alt_tokens(samplers, tiny_tokenizer):
    engine = samplers
    prompt = _prompt(tiny_tokenizer, "3+4=7")
    n = prompt.length
    targets = torch.full((n - 1, 3), -1, dtype=torch.int64)
    targets[n - 2] = torch.tensor([5, 17, prompt.to_ints()[-1]])
    request = types.SampleRequest(
        prompt=prompt,
        num_samples=2,
        sampling_params=types.SamplingParams(max_tokens=4, temperature=0.0),
        prompt_logprobs=True,
        topk_sample_logprobs=5,
        target_prompt_logprobs=RequestTensor.from_torch_sparse(targets, pad_value=-1),
        prompt_alt_tokens_k=2,
    )
    response = engine.sample_request("s-a", request)
    target = response.target_prompt_logprobs.to_torch()
    assert list(target.shape) == [n - 1, 3]
    assert target[: n - 2].abs().sum() == 0  # -1 cells get 0.0
    # The last target is the prompt's own last token: its logprob is the prompt logprob there.
    assert target[n - 2, 2].item() == pytest.approx(response.prompt_logprobs[-1], abs=1e-5)
    assert (target[n - 2] < 0).all()
    for seq in response.sequences:
        topk = seq.topk_logprobs
        assert len(topk) == len(seq.tokens)
        for token, logprob, row in zip(seq.tokens, seq.logprobs, topk, strict=True):
            assert row[0][0] == token  # greedy: the sampled token is the top one
            assert row[0][1] == pytest.approx(logprob, abs=1e-5)
            assert [lp for _, lp in row] == sorted((lp for _, lp in row), reverse=True)
    alt = response.prompt_alt_tokens
    assert alt.tokens.shape == [n - 1, 2] and alt.logprobs.shape == [n - 1, 2]
    assert np.all(alt.logprobs.to_numpy() <= 0)


def test_training_clients_and_samplers_share_one_copy_of_the_base(samplers, tiny_tokenizer, addition_data):
    engine = samplers
    base = engine.bases.get(TINY)
    embedding = base.model.get_input_embeddings().weight
    assert not embedding.requires_grad
    # Every adapter lives on the one model: its LoRA tensors sit in the base's modules.
    model_params = {id(p) for p in base.shared.peft.parameters()}
    for model_id in ("a", "b"):
        assert all(id(p) in model_params for p in engine._training(model_id).state.values())
    before = _tokens(engine.sample_request("base", _request(tiny_tokenizer, "1+2=", seed=5)))
    b_before = {k: v.clone() for k, v in engine._training("b").state.items()}
    engine.forward_backward("a", addition_data, "cross_entropy")
    engine.optim_step("a", ADAM)
    # Training one adapter leaves the base, the other adapter and its gradients alone.
    assert _tokens(engine.sample_request("base", _request(tiny_tokenizer, "1+2=", seed=5))) == before
    for key, value in engine._training("b").state.items():
        assert torch.equal(value, b_before[key]) and value.grad is None
