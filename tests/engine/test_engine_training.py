"""Engine training: losses, gradient accumulation, AdamW hyperparameters, error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tinker import types

from cookbook_tui.engine.engine import EngineError

TINY = "cookbook-tui/tiny-chat"
MODEL = "sess:train:0"


def _lora_tensors(engine, model_id=MODEL) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in engine._training(model_id).state.items()}


def _logprobs(engine, data, model_id=MODEL) -> list[np.ndarray]:
    out = engine.forward_backward(model_id, data, "cross_entropy", forward_only=True)
    return [o["logprobs"].to_numpy() for o in out.loss_fn_outputs]


def test_cross_entropy_loss_falls_and_outputs_match_the_sdk_shape(trained_addition, addition_data):
    engine, model_id, losses, out = trained_addition
    assert losses[-1] < 0.25 * losses[0], losses
    assert out.loss_fn_output_type == "ArrayRecord"
    assert len(out.loss_fn_outputs) == len(addition_data)
    for datum, output in zip(addition_data, out.loss_fn_outputs, strict=True):
        assert output["logprobs"].shape == [datum.model_input.length]
        assert output["logprobs"].dtype == "float32"
    # loss:sum is the weighted sum of -logprobs, exactly.
    expected = -sum(
        float(np.dot(o["logprobs"].to_numpy(), d.loss_fn_inputs["weights"].to_numpy()))
        for o, d in zip(out.loss_fn_outputs, addition_data, strict=True)
    )
    assert out.metrics["loss:sum"] == pytest.approx(expected, rel=1e-5)
    # a forward-only pass on the same data: no gradient left behind, metrics namespaced
    engine.forward_backward(model_id, addition_data, "cross_entropy", forward_only=True)
    metrics = engine.optim_step(model_id, types.AdamParams(learning_rate=0.0))
    assert metrics["engine/grad_norm"] == 0.0
    assert all(k.startswith("engine/") for k in metrics) and "step" not in metrics


def test_gradients_accumulate_across_forward_backward_calls(engine_dir, tiny_model_path, addition_data):
    from cookbook_tui.engine.engine import Engine

    adam = types.AdamParams(learning_rate=1e-2)
    whole, split = Engine(engine_dir / "a", device="cpu"), Engine(engine_dir / "b", device="cpu")
    for eng in (whole, split):
        eng.create_model(MODEL, TINY, types.LoraConfig(rank=4))
        # one step first, so LoRA B is non-zero and every adapter tensor gets a gradient
        eng.forward_backward(MODEL, addition_data, "cross_entropy")
        eng.optim_step(MODEL, adam)
    whole.forward_backward(MODEL, addition_data, "cross_entropy")
    split.forward_backward(MODEL, addition_data[:7], "cross_entropy")
    split.forward_backward(MODEL, addition_data[7:], "cross_entropy")
    whole_metrics = whole.optim_step(MODEL, adam)
    split_metrics = split.optim_step(MODEL, adam)
    assert split_metrics["engine/grad_norm"] == pytest.approx(whole_metrics["engine/grad_norm"], rel=1e-4)
    a, b = _lora_tensors(whole), _lora_tensors(split)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


def test_two_dimensional_cross_entropy_targets(engine, addition_data):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8))
    datum = addition_data[5]
    n = datum.model_input.length
    targets_1d = datum.loss_fn_inputs["target_tokens"].to_numpy()
    weights_1d = datum.loss_fn_inputs["weights"].to_numpy()
    alternatives = (targets_1d + 7) % 512
    targets = np.stack([targets_1d, alternatives], axis=1).astype(np.int64)
    weights = np.stack([weights_1d * 0.75, weights_1d * 0.25], axis=1).astype(np.float32)
    two_d = types.Datum(
        model_input=datum.model_input,
        loss_fn_inputs={"target_tokens": torch.from_numpy(targets), "weights": torch.from_numpy(weights)},
    )
    out = engine.forward_backward(MODEL, [two_d], "cross_entropy", forward_only=True)
    logprobs = out.loss_fn_outputs[0]["logprobs"].to_numpy()
    assert logprobs.shape == (n, 2)
    np.testing.assert_allclose(logprobs[:, 0], _logprobs(engine, [datum])[0], rtol=1e-5)
    assert out.metrics["loss:sum"] == pytest.approx(-(logprobs * weights).sum(), rel=1e-5)

    answer = weights_1d > 0
    before = logprobs[answer, 0].sum()
    for _ in range(5):
        engine.forward_backward(MODEL, [two_d], "cross_entropy")
        engine.optim_step(MODEL, types.AdamParams(learning_rate=3e-3))
    after = engine.forward_backward(MODEL, [two_d], "cross_entropy", forward_only=True)
    assert after.loss_fn_outputs[0]["logprobs"].to_numpy()[answer, 0].sum() > before


def _rl_datum(tokens: list[int], sampling_logprobs: np.ndarray, advantage: float) -> types.Datum:
    n = len(tokens) - 1
    advantages = np.zeros(n, dtype=np.float32)
    advantages[-3:] = advantage  # the "completion": the last three targets
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={
            "target_tokens": np.asarray(tokens[1:], dtype=np.int64),
            "logprobs": sampling_logprobs.astype(np.float32),
            "advantages": advantages,
        },
    )


@pytest.mark.parametrize("loss_fn", ["importance_sampling", "ppo", "cispo", "dro"])
def test_policy_gradient_losses_raise_logprobs_of_positive_advantage_tokens(engine, loss_fn):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8))
    good = [1, 40, 41, 42, 43, 44, 45]
    bad = [1, 40, 41, 42, 50, 51, 52]

    def completion_logprob(tokens):
        probe = _rl_datum(tokens, np.zeros(len(tokens) - 1), 0.0)
        out = engine.forward_backward(MODEL, [probe], "importance_sampling", forward_only=True)
        return out.loss_fn_outputs[0]["logprobs"].to_numpy()[-3:].sum()

    good_before, bad_before = completion_logprob(good), completion_logprob(bad)
    for _ in range(4):
        # on-policy: the sampler's logprobs are the current model's
        data = []
        for tokens, advantage in ((good, 1.0), (bad, -1.0)):
            probe = _rl_datum(tokens, np.zeros(len(tokens) - 1), 0.0)
            current = engine.forward_backward(MODEL, [probe], "importance_sampling", forward_only=True)
            data.append(_rl_datum(tokens, current.loss_fn_outputs[0]["logprobs"].to_numpy(), advantage))
        out = engine.forward_backward(MODEL, data, loss_fn)
        assert np.isfinite(out.metrics["loss:sum"])
        engine.optim_step(MODEL, types.AdamParams(learning_rate=1e-2))
    assert completion_logprob(good) > good_before + 0.1
    assert completion_logprob(bad) < bad_before - 0.1


def test_ppo_clipping_follows_loss_fn_config(engine):
    """A ratio of e (sampler logprob 1 nat below the model's) is clipped by the default 1.2 upper
    threshold, so a positive advantage gives no gradient; with the threshold at 5 it does."""
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8))
    tokens = [1, 40, 41, 42, 43, 44]
    probe = _rl_datum(tokens, np.zeros(len(tokens) - 1), 0.0)
    current = engine.forward_backward(MODEL, [probe], "ppo", forward_only=True)
    stale = current.loss_fn_outputs[0]["logprobs"].to_numpy() - 1.0
    datum = _rl_datum(tokens, stale, 1.0)
    engine.forward_backward(MODEL, [datum], "ppo")
    clipped = engine.optim_step(MODEL, types.AdamParams(learning_rate=0.0))
    engine.forward_backward(MODEL, [datum], "ppo", loss_fn_config={"clip_high_threshold": 5.0})
    unclipped = engine.optim_step(MODEL, types.AdamParams(learning_rate=0.0))
    assert clipped["engine/grad_norm"] == 0.0
    assert unclipped["engine/grad_norm"] > 0.0


@pytest.mark.parametrize("loss_fn", ["gspo", "stable_reinforce", "custom"])
def test_unsupported_losses_are_rejected_by_name(engine, addition_data, loss_fn):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    with pytest.raises(EngineError) as info:
        engine.forward_backward(MODEL, addition_data, loss_fn)
    assert repr(loss_fn) in str(info.value) and info.value.category == "user"


def test_missing_loss_input_and_bad_config_are_named(engine, addition_data):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    with pytest.raises(EngineError, match=r"datum 0: loss_fn 'ppo' needs loss_fn_inputs\['logprobs'\]"):
        engine.forward_backward(MODEL, addition_data, "ppo")
    with pytest.raises(EngineError, match="clip_ratio"):
        engine.forward_backward(MODEL, addition_data, "cross_entropy", loss_fn_config={"clip_ratio": 1})
    with pytest.raises(EngineError, match=r"adam_params.beta2 must be in \[0, 1\), got 1.5"):
        engine.optim_step(MODEL, types.AdamParams(beta2=1.5))


def test_weight_decay_is_decoupled_and_applied(engine_dir, tiny_model_path, addition_data):
    """AdamW: p <- p - lr*wd*p - lr*adam_update. Two models fed the same gradients differ by
    exactly lr*wd*p_old when only weight_decay differs; ignoring weight_decay gives no gap."""
    from cookbook_tui.engine.engine import Engine

    lr, wd = 1e-3, 0.5
    plain, decayed = Engine(engine_dir / "a", device="cpu"), Engine(engine_dir / "b", device="cpu")
    for eng in (plain, decayed):
        eng.create_model(MODEL, TINY, types.LoraConfig(rank=4))
        eng.forward_backward(MODEL, addition_data, "cross_entropy")
    before = _lora_tensors(plain)
    plain.optim_step(MODEL, types.AdamParams(learning_rate=lr))
    decayed.optim_step(MODEL, types.AdamParams(learning_rate=lr, weight_decay=wd))
    a, b = _lora_tensors(plain), _lora_tensors(decayed)
    lora_a = [k for k in before if "lora_A" in k]
    assert lora_a
    for key in lora_a:
        torch.testing.assert_close(a[key] - b[key], lr * wd * before[key], rtol=1e-3, atol=1e-9)


def test_grad_clip_norm_bounds_the_update(engine_dir, tiny_model_path, addition_data):
    """With eps large, Adam's first update is ~lr*g/eps, so it scales with the gradient: clipping
    the global norm to 1e-3 must shrink the update by orders of magnitude."""
    from cookbook_tui.engine.engine import Engine

    sizes = {}
    for clip in (0.0, 1e-3):
        eng = Engine(engine_dir / f"clip-{clip}", device="cpu")
        eng.create_model(MODEL, TINY, types.LoraConfig(rank=4))
        before = _lora_tensors(eng)
        eng.forward_backward(MODEL, addition_data, "cross_entropy")
        metrics = eng.optim_step(MODEL, types.AdamParams(learning_rate=1.0, eps=1e3, grad_clip_norm=clip))
        after = _lora_tensors(eng)
        sizes[clip] = sum(float((after[k] - before[k]).norm() ** 2) for k in before) ** 0.5
        assert metrics["engine/grad_norm"] > 1.0  # reported before clipping
    assert sizes[1e-3] < sizes[0.0] / 100


def test_forward_only_leaves_no_gradient_behind(engine, addition_data):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    engine.forward_backward(MODEL, addition_data, "cross_entropy", forward_only=True)
    before = _lora_tensors(engine)
    metrics = engine.optim_step(MODEL, types.AdamParams(learning_rate=1e-2))
    assert metrics["engine/grad_norm"] == 0.0
    after = _lora_tensors(engine)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_models_trained_from_concurrent_threads_match_sequential_training(
    engine_dir, tiny_model_path, addition_data
):
    from concurrent.futures import ThreadPoolExecutor

    from cookbook_tui.engine.engine import Engine

    adam = types.AdamParams(learning_rate=3e-3)

    def train(eng, model_id, data):
        for _ in range(5):
            eng.forward_backward(model_id, data, "cross_entropy")
            eng.optim_step(model_id, adam)

    parallel, serial = Engine(engine_dir / "p", device="cpu"), Engine(engine_dir / "s", device="cpu")
    jobs = [("m:train:0", addition_data[:8]), ("m:train:1", addition_data[8:])]
    for eng in (parallel, serial):
        for model_id, _ in jobs:
            eng.create_model(model_id, TINY, types.LoraConfig(rank=4))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: train(parallel, *job), jobs))
    for job in jobs:
        train(serial, *job)
    for model_id, _ in jobs:
        a, b = _lora_tensors(parallel, model_id), _lora_tensors(serial, model_id)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-7)
