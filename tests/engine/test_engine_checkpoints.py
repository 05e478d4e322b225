"""Engine checkpoints: save/load across engine instances (a new process), runs and REST reads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tinker import types

from cookbook_tui.engine.engine import Engine, EngineError

TINY = "cookbook-tui/tiny-chat"
MODEL = "sess-1:train:0"
ADAM = types.AdamParams(learning_rate=3e-3)


def _train(engine, data, steps, model_id=MODEL):
    for _ in range(steps):
        engine.forward_backward(model_id, data, "cross_entropy")
        engine.optim_step(model_id, ADAM)


def _logprobs(engine, data, model_id=MODEL):
    out = engine.forward_backward(model_id, data, "cross_entropy", forward_only=True)
    return [o["logprobs"].to_numpy() for o in out.loss_fn_outputs]


def _weights(engine, model_id):
    return {k: v.detach().clone() for k, v in engine._training(model_id).state.items()}


def test_state_reloads_in_a_new_engine_with_identical_logprobs_and_next_step(
    engine, engine_dir, addition_data
):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=8), {"renderer_name": "qwen3_instruct"})
    _train(engine, addition_data, 3)
    path = engine.save_state(MODEL, "step-3")
    assert path == f"tinker://{MODEL}/weights/step-3"
    expected = _logprobs(engine, addition_data)
    _train(engine, addition_data, 1)  # the original run's next step
    expected_next = _weights(engine, MODEL)

    fresh = Engine(engine_dir, device="cpu", seed=0)  # what a restarted server builds
    run = fresh.get_training_run(MODEL)
    assert run.base_model == TINY and run.lora_rank == 8
    assert run.user_metadata == {"renderer_name": "qwen3_instruct"}
    assert run.last_checkpoint is not None and run.last_checkpoint.tinker_path == path

    # weights only: same logprobs
    fresh.create_model("sess-2:train:0", TINY, types.LoraConfig(rank=8))
    fresh.load_state("sess-2:train:0", path)
    for got, want in zip(_logprobs(fresh, addition_data, "sess-2:train:0"), expected, strict=True):
        np.testing.assert_array_equal(got, want)

    # with optimizer, via the resume path: the next step is the original's next step
    fresh.create_model_from_state("sess-2:train:1", path, with_optimizer=True)
    assert fresh.get_training_run("sess-2:train:1").user_metadata == {"renderer_name": "qwen3_instruct"}
    _train(fresh, addition_data, 1, "sess-2:train:1")
    for key, tensor in _weights(fresh, "sess-2:train:1").items():
        torch.testing.assert_close(tensor, expected_next[key], rtol=0, atol=0)

    # weights only, then a step: Adam restarts, so the step differs from the original's
    _train(fresh, addition_data, 1, "sess-2:train:0")
    moved = _weights(fresh, "sess-2:train:0")
    assert any(not torch.equal(moved[k], expected_next[k]) for k in moved)


def test_checkpoints_are_listed_and_deleted(engine, engine_dir, addition_data):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    first = engine.save_state(MODEL, "a")
    sampler = engine.save_sampler_weights(MODEL, "a")
    assert sampler == f"tinker://{MODEL}/sampler_weights/a"
    listed = Engine(engine_dir, device="cpu").list_checkpoints(MODEL)
    assert {(c.checkpoint_type, c.tinker_path) for c in listed} == {("training", first), ("sampler", sampler)}
    assert all(c.size_bytes and c.size_bytes > 0 for c in listed)
    # the run dir holds only finished checkpoint folders: no temp folders left behind
    run_dir = engine.store.run_dir(MODEL)
    assert sorted(p.name for p in (run_dir / "weights").iterdir()) == ["a"]

    engine.delete_checkpoint(first)
    assert [c.tinker_path for c in engine.list_checkpoints(MODEL)] == [sampler]
    with pytest.raises(EngineError) as info:
        engine.load_state(MODEL, first)
    assert info.value.category == "not_found" and first in str(info.value)
    assert [r.training_run_id for r in engine.list_training_runs()] == [MODEL]


def test_overwriting_a_checkpoint_name_replaces_it(engine, addition_data):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    path = engine.save_state(MODEL, "latest")
    _train(engine, addition_data, 2)
    assert engine.save_state(MODEL, "latest") == path
    trained = _logprobs(engine, addition_data)
    engine.create_model("sess-1:train:1", TINY, types.LoraConfig(rank=4))
    engine.load_state("sess-1:train:1", path)
    for got, want in zip(_logprobs(engine, addition_data, "sess-1:train:1"), trained, strict=True):
        np.testing.assert_array_equal(got, want)


def test_bad_names_and_mismatched_shapes_are_user_errors(engine):
    engine.create_model(MODEL, TINY, types.LoraConfig(rank=4))
    with pytest.raises(EngineError, match="checkpoint name '../x'"):
        engine.save_state(MODEL, "../x")
    path = engine.save_state(MODEL, "r4")
    engine.create_model("sess-1:train:1", TINY, types.LoraConfig(rank=8))
    with pytest.raises(EngineError, match="LoRA rank 4.*does not fit.*LoRA rank 8"):
        engine.load_state("sess-1:train:1", path)
    with pytest.raises(EngineError, match="not a tinker"):
        engine.load_state(MODEL, "/tmp/r4")
    with pytest.raises(EngineError) as info:
        engine.get_training_run("nobody:train:0")
    assert info.value.category == "not_found"


def test_lora_config_chooses_the_adapted_layers(engine):
    engine.create_model("m:train:0", TINY, types.LoraConfig(rank=2, train_mlp=False, train_unembed=False))
    engine.create_model("m:train:1", TINY, types.LoraConfig(rank=2, train_attn=False))
    attn_only = _weights(engine, "m:train:0")
    mlp_and_head = _weights(engine, "m:train:1")
    assert attn_only and all("self_attn" in k for k in attn_only)
    assert any("lm_head" in k for k in mlp_and_head) and any("mlp" in k for k in mlp_and_head)
    assert not any("self_attn" in k for k in mlp_and_head)
    with pytest.raises(EngineError, match="trains no layer"):
        engine.create_model(
            "m:train:2", TINY, types.LoraConfig(rank=2, train_attn=False, train_mlp=False, train_unembed=False)
        )
    info = engine.model_info("m:train:0")
    assert info.model_data.tokenizer_id == TINY and info.lora_rank == 2


def test_a_local_model_folder_is_a_base_model_and_its_own_tokenizer_id(engine, tiny_model_path):
    from transformers import AutoTokenizer

    folder = str(tiny_model_path)
    engine.create_model("f:train:0", folder, types.LoraConfig(rank=2))
    info = engine.model_info("f:train:0")
    assert info.model_data.tokenizer_id == folder
    assert AutoTokenizer.from_pretrained(info.model_data.tokenizer_id).vocab_size > 0
    with pytest.raises(EngineError, match="cannot load base_model '/no/such/model'"):
        engine.create_model("f:train:1", "/no/such/model", types.LoraConfig(rank=2))
