"""The unmodified tinker 0.38.0 SDK trains, checkpoints and samples against the local server."""

from __future__ import annotations

import numpy as np
import pytest
from server_helpers import SDK_TIMEOUT, TINY, local_server, service_client, wait_healthy  # noqa: F401 (fixtures)

pytestmark = pytest.mark.xdist_group("server-sdk")

STOP = ";"


def _datum(tokenizer, prompt: str, answer: str):
    """Next-token datum for `prompt + answer`, with loss on the answer tokens only."""
    from tinker import types

    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    full = prompt_ids + answer_ids
    weights = [0.0] * (len(prompt_ids) - 1) + [1.0] * len(answer_ids)
    return types.Datum(
        model_input=types.ModelInput.from_ints(full[:-1]),
        loss_fn_inputs={"target_tokens": full[1:], "weights": weights},
    )


def _addition(tokenizer):
    return [_datum(tokenizer, f"{a}+{b}=", f"{a + b}{STOP}") for a in range(4) for b in range(4)]


def _mean_nll(output, data) -> float:
    total = sum(
        -float(np.dot(out["logprobs"].to_numpy(), d.loss_fn_inputs["weights"].to_numpy()))
        for out, d in zip(output.loss_fn_outputs, data)
    )
    return total / sum(float(d.loss_fn_inputs["weights"].to_numpy().sum()) for d in data)


def _logprobs(client, data) -> list[np.ndarray]:
    output = client.forward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
    return [out["logprobs"].to_numpy().copy() for out in output.loss_fn_outputs]


@pytest.fixture(scope="module")
def trained(service_client, tiny_tokenizer):
    """A LoRA client trained on `a+b=c;`, and the mean NLL after every step."""
    from tinker import types

    client = service_client.create_lora_training_client(base_model=TINY, rank=8, seed=0).result(
        timeout=SDK_TIMEOUT
    )
    data = _addition(tiny_tokenizer)
    nll = []
    for _ in range(40):
        fwd_bwd = client.forward_backward(data, "cross_entropy")
        optim = client.optim_step(types.AdamParams(learning_rate=2e-2))
        nll.append(_mean_nll(fwd_bwd.result(timeout=SDK_TIMEOUT), data))
        metrics = optim.result(timeout=SDK_TIMEOUT).metrics
    return client, data, nll, metrics


def test_loss_falls_over_forward_backward_and_optim_step(trained) -> None:
    _, _, nll, _ = trained
    assert nll[-1] < 0.5 * nll[0], nll


def test_optim_step_metrics_are_namespaced(trained) -> None:
    *_, metrics = trained
    assert metrics and all(key.startswith("engine/") for key in metrics), metrics


def test_save_state_then_create_from_state_gives_identical_logprobs(service_client, trained) -> None:
    from tinker import types

    client, data, _, _ = trained
    path = client.save_state("sdk-state").result(timeout=SDK_TIMEOUT).path
    assert path.startswith("tinker://") and path.endswith("/weights/sdk-state")

    restored = service_client.create_training_client_from_state(path).result(timeout=SDK_TIMEOUT)
    for ours, theirs in zip(_logprobs(client, data), _logprobs(restored, data)):
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)

    # With the optimizer state too, one more identical step stays identical on both.
    resumed = service_client.create_training_client_from_state_with_optimizer(path).result(timeout=SDK_TIMEOUT)
    for c in (client, resumed):
        c.forward_backward(data, "cross_entropy")
        c.optim_step(types.AdamParams(learning_rate=2e-2)).result(timeout=SDK_TIMEOUT)
    for ours, theirs in zip(_logprobs(client, data), _logprobs(resumed, data)):
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)

    fresh = service_client.create_lora_training_client(base_model=TINY, rank=8, seed=0).result(timeout=SDK_TIMEOUT)
    assert not np.allclose(_logprobs(fresh, data[:1])[0], _logprobs(restored, data[:1])[0], atol=1e-3)


def test_sampling_stops_at_the_stop_sequence_and_decodes(trained, tiny_tokenizer) -> None:
    from tinker import types

    client, *_ = trained
    sampler = client.save_weights_and_get_sampling_client().result(timeout=SDK_TIMEOUT)
    prompt = types.ModelInput.from_ints(tiny_tokenizer.encode("2+1=", add_special_tokens=False))
    params = types.SamplingParams(max_tokens=12, temperature=0.0, stop=[STOP])
    result = sampler.sample(prompt, 2, params).result(timeout=SDK_TIMEOUT)

    assert len(result.sequences) == 2
    assert len({seq.sequence_id for seq in result.sequences}) == 2
    for seq in result.sequences:
        text = tiny_tokenizer.decode(seq.tokens)
        assert seq.stop_reason == "stop", text
        assert text.endswith(STOP) and text.count(STOP) == 1, text
        assert len(seq.tokens) < 12
        assert len(seq.logprobs) == len(seq.tokens)


def test_compute_logprobs_equals_forward_logprobs(trained, tiny_tokenizer) -> None:
    client, data, _, _ = trained
    sampler = client.save_weights_and_get_sampling_client().result(timeout=SDK_TIMEOUT)
    datum = data[5]
    tokens = datum.model_input.to_ints() + [int(datum.loss_fn_inputs["target_tokens"].to_numpy()[-1])]
    from tinker import types

    prompt_logprobs = sampler.compute_logprobs(types.ModelInput.from_ints(tokens)).result(timeout=SDK_TIMEOUT)
    assert prompt_logprobs[0] is None
    forward = _logprobs(client, [datum])[0]
    np.testing.assert_allclose(np.array(prompt_logprobs[1:], dtype=np.float32), forward, rtol=0, atol=1e-4)


def test_named_sampler_weights_open_as_a_sampling_client(service_client, trained, tiny_tokenizer) -> None:
    from tinker import types

    client, *_ = trained
    path = client.save_weights_for_sampler("sdk-sampler").result(timeout=SDK_TIMEOUT).path
    assert path.endswith("/sampler_weights/sdk-sampler")
    sampler = service_client.create_sampling_client(model_path=path).result(timeout=SDK_TIMEOUT)
    assert sampler.get_base_model() == TINY
    prompt = types.ModelInput.from_ints(tiny_tokenizer.encode("1+1=", add_special_tokens=False))
    result = sampler.sample(prompt, 1, types.SamplingParams(max_tokens=4, temperature=0.0)).result(timeout=SDK_TIMEOUT)
    assert 1 <= len(result.sequences[0].tokens) <= 4


@pytest.mark.parametrize("loss_fn", ["importance_sampling", "ppo"])
def test_policy_gradient_step_raises_positive_advantage_logprobs(service_client, tiny_tokenizer, loss_fn) -> None:
    from tinker import types

    client = service_client.create_lora_training_client(base_model=TINY, rank=8, seed=1).result(timeout=SDK_TIMEOUT)
    tokens = tiny_tokenizer.encode("7+2=9;3+3=6;", add_special_tokens=False)
    inputs, targets = tokens[:-1], tokens[1:]
    probe = types.Datum(
        model_input=types.ModelInput.from_ints(inputs),
        loss_fn_inputs={"target_tokens": targets, "weights": [1.0] * len(targets)},
    )
    before = _logprobs(client, [probe])[0]
    advantages = np.zeros(len(targets), dtype=np.float32)
    positive = np.arange(len(targets)) % 2 == 0
    advantages[positive] = 1.0
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(inputs),
        loss_fn_inputs={"target_tokens": targets, "logprobs": before, "advantages": advantages},
    )
    client.forward_backward([datum], loss_fn)
    client.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=SDK_TIMEOUT)
    after = _logprobs(client, [probe])[0]
    assert after[positive].sum() > before[positive].sum() + 0.05, (before[positive], after[positive])


def test_engine_error_fails_the_future_with_its_message(service_client, trained, local_server) -> None:
    from tinker import RequestFailedError

    _, data, _, _ = trained
    client = service_client.create_lora_training_client(base_model=TINY, rank=8).result(timeout=SDK_TIMEOUT)
    with pytest.raises(RequestFailedError, match="gspo") as caught:
        client.forward_backward(data[:1], "gspo").result(timeout=SDK_TIMEOUT)
    assert caught.value.category == "user"
    wait_healthy(local_server.base_url)


def test_rest_client_reads_runs_and_checkpoints_and_deletes(local_server, trained) -> None:
    import tinker

    client, *_ = trained
    path = client.save_state("to-delete").result(timeout=SDK_TIMEOUT).path
    rest = tinker.RestClient(base_url=local_server.base_url, api_key=local_server.api_key)

    run = rest.get_training_run_by_tinker_path(path).result(timeout=SDK_TIMEOUT)
    assert run.training_run_id == client.model_id and run.base_model == TINY and run.lora_rank == 8
    names = [c.checkpoint_id for c in rest.list_checkpoints(client.model_id).result(timeout=SDK_TIMEOUT).checkpoints]
    assert "weights/to-delete" in names
    runs = rest.list_training_runs(limit=100).result(timeout=SDK_TIMEOUT).training_runs
    assert client.model_id in [r.training_run_id for r in runs]
    assert path in [c.tinker_path for c in rest.list_user_checkpoints().result(timeout=SDK_TIMEOUT).checkpoints]
    info = rest.get_weights_info_by_tinker_path(path).result(timeout=SDK_TIMEOUT)
    assert (info.base_model, info.is_lora, info.lora_rank) == (TINY, True, 8)
    models = rest.get_server_capabilities().result(timeout=SDK_TIMEOUT).supported_models
    assert TINY in [m.model_name for m in models]

    rest.delete_checkpoint_from_tinker_path(path).result(timeout=SDK_TIMEOUT)
    names = [c.checkpoint_id for c in rest.list_checkpoints(client.model_id).result(timeout=SDK_TIMEOUT).checkpoints]
    assert "weights/to-delete" not in names


def test_an_unknown_base_model_fails_creation_with_its_name(service_client) -> None:
    from tinker import RequestFailedError

    with pytest.raises(RequestFailedError, match="no-such-org/no-such-model"):
        service_client.create_lora_training_client(base_model="no-such-org/no-such-model", rank=8).result(
            timeout=SDK_TIMEOUT
        )


def test_a_checkpoint_outlives_its_server(tiny_model_path, tiny_tokenizer, tmp_path) -> None:
    """A new server over the same data dir resumes a checkpoint an earlier one wrote."""
    import tinker
    from tinker import types

    from cookbook_tui.engine import start_local_server

    data = _addition(tiny_tokenizer)[:4]
    with start_local_server(data_dir=tmp_path) as first:
        wait_healthy(first.base_url)
        sdk = tinker.ServiceClient(base_url=first.base_url, api_key=first.api_key)
        client = sdk.create_lora_training_client(base_model=TINY, rank=8).result(timeout=SDK_TIMEOUT)
        for _ in range(3):
            client.forward_backward(data, "cross_entropy")
            client.optim_step(types.AdamParams(learning_rate=2e-2)).result(timeout=SDK_TIMEOUT)
        path = client.save_state("survivor").result(timeout=SDK_TIMEOUT).path
        expected = _logprobs(client, data)
        sdk.close("success").result(timeout=30)

    with start_local_server(data_dir=tmp_path) as second:
        wait_healthy(second.base_url)
        sdk = tinker.ServiceClient(base_url=second.base_url, api_key=second.api_key)
        restored = sdk.create_training_client_from_state_with_optimizer(path).result(timeout=SDK_TIMEOUT)
        for ours, theirs in zip(expected, _logprobs(restored, data)):
            np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
        sdk.close("success").result(timeout=30)


def test_try_again_answers_are_polled_until_the_result_is_ready(tiny_model_path, tiny_tokenizer, tmp_path, caplog) -> None:
    """With no hold at all, every retrieve_future before the result is a try_again."""
    import logging

    import tinker
    from tinker import types

    from cookbook_tui.engine import start_local_server

    with start_local_server(data_dir=tmp_path, hold_seconds=0.0) as server:
        wait_healthy(server.base_url)
        sdk = tinker.ServiceClient(base_url=server.base_url, api_key=server.api_key)
        client = sdk.create_lora_training_client(base_model=TINY, rank=8).result(timeout=SDK_TIMEOUT)
        data = _addition(tiny_tokenizer)[:2]
        output = client.forward_backward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
        assert len(output.loss_fn_outputs) == 2
        assert client.optim_step(types.AdamParams()).result(timeout=SDK_TIMEOUT).metrics
        sdk.close("success").result(timeout=30)
    assert any("try_again" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_forward_backward_custom_trains_through_the_surrogate_loss(service_client, tiny_tokenizer) -> None:
    """The SDK runs a forward, differentiates the user's loss locally, then sends a weighted
    cross_entropy; maximising the logprobs of the targets must raise them."""
    import torch
    from tinker import types

    client = service_client.create_lora_training_client(base_model=TINY, rank=8, seed=2).result(timeout=SDK_TIMEOUT)
    data = _addition(tiny_tokenizer)[:4]
    before = _logprobs(client, data)

    def neg_logprob(batch, logprobs_list):
        loss = -torch.stack([lp.sum() for lp in logprobs_list]).sum()
        return loss, {"custom/neg_logprob": float(loss)}

    output = client.forward_backward_custom(data, neg_logprob).result(timeout=SDK_TIMEOUT)
    assert "custom/neg_logprob" in output.metrics
    client.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=SDK_TIMEOUT)
    after = _logprobs(client, data)
    assert sum(a.sum() for a in after) > sum(b.sum() for b in before) + 0.1


def test_a_batch_split_into_parallel_chunks_comes_back_whole_and_in_order(trained, tiny_tokenizer) -> None:
    """Over 1024 datums the SDK sends chunks at once with consecutive seq_ids (the first chunk
    last); the server runs them in seq_id order and the SDK stitches the outputs together."""
    client, *_ = trained
    data = [
        _datum(tiny_tokenizer, f"{i % 10}+{i // 10 % 10}=", f"{i % 7}{STOP}") for i in range(1030)
    ]
    output = client.forward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
    assert len(output.loss_fn_outputs) == 1030
    for i in (0, 1023, 1024, 1029):
        alone = _logprobs(client, [data[i]])[0]
        np.testing.assert_allclose(output.loss_fn_outputs[i]["logprobs"].to_numpy(), alone, rtol=0, atol=1e-4)
