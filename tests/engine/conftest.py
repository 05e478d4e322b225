"""Fixtures for the engine tests: a fresh Engine per test over its own data dir, the tiny
model's tokenizer, and a small single-digit addition task as Tinker datums."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Tests share 2 cores with other test workers: torch's default of one OpenMP thread per core then
# spin-waits against them and a 20 ms step takes 1-3 s. One thread keeps tiny-model steps fast.
torch.set_num_threads(1)

TINY = "cookbook-tui/tiny-chat"
IM_END = "<|im_end|>"


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_path))


@pytest.fixture
def engine_dir(tmp_path: Path) -> Path:
    return tmp_path / "engine-data"


@pytest.fixture
def engine(engine_dir: Path, tiny_model_path: Path):
    from cookbook_tui.engine.engine import Engine

    return Engine(engine_dir, device="cpu", seed=0)


def make_addition_data(tokenizer):
    """`a+b=` -> `c<|im_end|>` for single digits, loss on the answer only."""
    from tinker import types

    end = tokenizer.convert_tokens_to_ids(IM_END)
    data = []
    for a in range(4):
        for b in range(4):
            prompt = tokenizer.encode(f"{a}+{b}=", add_special_tokens=False)
            answer = tokenizer.encode(str(a + b), add_special_tokens=False) + [end]
            full = prompt + answer
            weights = [0.0] * (len(prompt) - 1) + [1.0] * len(answer)
            data.append(
                types.Datum(
                    model_input=types.ModelInput.from_ints(full[:-1]),
                    loss_fn_inputs={"target_tokens": full[1:], "weights": weights},
                )
            )
    return data


@pytest.fixture
def addition_data(tiny_tokenizer):
    return make_addition_data(tiny_tokenizer)


@pytest.fixture(scope="session")
def trained_addition(tmp_path_factory, tiny_model_path: Path, tiny_tokenizer):
    """One engine trained for 40 steps on the addition task, shared read-only by the tests that
    need a model that has learned something: (engine, model_id, per-step loss:sum, last output)."""
    from tinker import types

    from cookbook_tui.engine.engine import Engine

    engine = Engine(tmp_path_factory.mktemp("trained") / "data", device="cpu", seed=0)
    model_id = "trained:train:0"
    engine.create_model(model_id, TINY, types.LoraConfig(rank=8))
    data = make_addition_data(tiny_tokenizer)
    losses, output = [], None
    for _ in range(40):
        output = engine.forward_backward(model_id, data, "cross_entropy")
        engine.optim_step(model_id, types.AdamParams(learning_rate=3e-3))
        losses.append(output.metrics["loss:sum"])
    return engine, model_id, losses, output
