"""Two SDK clients train two models on one server at the same time: both learn, and each ends
exactly where it ends when trained alone on a fresh server.

Why exact equality holds: each LoRA model is initialised from the engine seed under its own
forked RNG, has no dropout, and the server runs all model work one request at a time on a single
worker thread with one torch thread, so interleaving two clients changes the order of requests
but not the arithmetic of any one of them."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from reliability_helpers import TINY
from server_helpers import SDK_TIMEOUT, wait_healthy

pytestmark = pytest.mark.xdist_group("reliability-concurrent")

STEPS = 8


def _datum(tokenizer, prompt: str, answer: str):
    from tinker import types

    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    full = prompt_ids + answer_ids
    return types.Datum(
        model_input=types.ModelInput.from_ints(full[:-1]),
        loss_fn_inputs={"target_tokens": full[1:], "weights": [0.0] * (len(prompt_ids) - 1) + [1.0] * len(answer_ids)},
    )


@pytest.fixture(scope="module")
def tasks(tiny_model_path):
    """Two different tasks, so the two models must not end alike: addition and reversal."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_path))
    addition = [_datum(tokenizer, f"{a}+{b}=", f"{a + b};") for a in range(4) for b in range(4)]
    reversal = [_datum(tokenizer, f"{a}{b}{c}>", f"{c}{b}{a};") for a, b, c in [(1, 2, 3), (4, 5, 6), (7, 8, 9), (3, 1, 4)]]
    return {"addition": addition, "reversal": reversal}


def _train(base_url: str, api_key: str, data, start: threading.Barrier | None = None):
    """(loss per step, per-datum logprobs after training) for a fresh LoRA model."""
    import tinker
    from tinker import types

    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    try:
        client = service.create_lora_training_client(base_model=TINY, rank=8, seed=0).result(timeout=SDK_TIMEOUT)
        if start is not None:
            start.wait(timeout=SDK_TIMEOUT)
        losses = []
        for _ in range(STEPS):
            fwd_bwd = client.forward_backward(data, "cross_entropy")
            optim = client.optim_step(types.AdamParams(learning_rate=1e-2))
            losses.append(fwd_bwd.result(timeout=SDK_TIMEOUT).metrics["loss:sum"])
            optim.result(timeout=SDK_TIMEOUT)
        output = client.forward(data, "cross_entropy").result(timeout=SDK_TIMEOUT)
        return losses, [out["logprobs"].to_numpy().copy() for out in output.loss_fn_outputs]
    finally:
        service.close("success").result(timeout=30)


def _train_alone(tmp_path, data):
    from cookbook_tui.engine import start_local_server

    with start_local_server(data_dir=tmp_path) as server:
        wait_healthy(server.base_url)
        return _train(server.base_url, server.api_key, data)


def test_two_clients_at_once_learn_exactly_what_each_learns_alone(tiny_model_path, tmp_path, tasks) -> None:
    from cookbook_tui.engine import start_local_server

    results: dict[str, object] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    with start_local_server(data_dir=tmp_path / "shared") as server:
        wait_healthy(server.base_url)

        def run(name: str) -> None:
            try:
                results[name] = _train(server.base_url, server.api_key, tasks[name], start)
            except BaseException as exc:  # re-raised below, in the test's thread
                errors.append(exc)
                start.abort()

        threads = [threading.Thread(target=run, args=(name,)) for name in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=4 * SDK_TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a training client hung"
    if errors:
        raise errors[0]

    for name in tasks:
        losses, logprobs = results[name]
        assert losses[-1] < 0.7 * losses[0], (name, losses)
        solo_losses, solo_logprobs = _train_alone(tmp_path / f"solo-{name}", tasks[name])
        assert losses == solo_losses, name
        for together, alone in zip(logprobs, solo_logprobs, strict=True):
            np.testing.assert_array_equal(together, alone)
    assert results["addition"][0] != results["reversal"][0]  # two tasks, two different runs
