"""REST parity with what the SDK and its CLI use, through the real tinker 0.38.0 client:
checkpoint TTLs and expiry, publish/unpublish, the user's checkpoint listing (paginated), weights
info, `tinker checkpoint download`, retrieve_futures batch polling and cancel_future."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from server_helpers import SDK_TIMEOUT, TINY, local_server, one_datum, post_raw, service_client  # noqa: F401 (fixtures)

pytestmark = pytest.mark.xdist_group("server-parity")


@pytest.fixture(scope="module")
def trained(service_client):
    """A training client with one step taken, and its run id."""
    from tinker import types

    training = service_client.create_lora_training_client(base_model=TINY, rank=4).result(timeout=SDK_TIMEOUT)
    training.forward_backward([one_datum()], "cross_entropy").result(timeout=SDK_TIMEOUT)
    training.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=SDK_TIMEOUT)
    return training


def _rest(server):
    import tinker

    return tinker.RestClient(base_url=server.base_url, api_key=server.api_key)


def _checkpoint(rest, path: str):
    run_id = path.removeprefix("tinker://").split("/")[0]
    found = [c for c in rest.list_checkpoints(run_id).result(timeout=SDK_TIMEOUT).checkpoints if c.tinker_path == path]
    return found[0] if found else None


def test_checkpoint_ttl_is_kept_changed_and_removed(service_client, trained, local_server) -> None:
    import tinker

    from cookbook_tui.engine.checkpoints import CheckpointStore
    from cookbook_tui.engine.errors import EngineError

    rest = _rest(local_server)
    path = trained.save_state("ttl-ckpt", ttl_seconds=7200).result(timeout=SDK_TIMEOUT).path
    expires = _checkpoint(rest, path).expires_at
    assert expires is not None
    assert abs((expires - datetime.now(UTC)) - timedelta(hours=2)) < timedelta(minutes=1)

    rest.set_checkpoint_ttl_from_tinker_path(path, None).result(timeout=SDK_TIMEOUT)
    assert _checkpoint(rest, path).expires_at is None
    with pytest.raises(tinker.BadRequestError, match="ttl_seconds must be between 3600"):
        rest.set_checkpoint_ttl_from_tinker_path(path, 10).result(timeout=SDK_TIMEOUT)

    # Past its expiry the checkpoint is gone: listed no more, its folder removed, loads refused.
    store = CheckpointStore(local_server.data_dir)
    store.update_checkpoint_meta(path, {"expires_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()})
    folder = store.checkpoint_dir(path)
    assert _checkpoint(rest, path) is None
    assert not folder.exists()
    with pytest.raises(EngineError, match="not found"):
        store.read_checkpoint_meta(path)


def test_publish_unpublish_listing_and_weights_info(local_server, trained) -> None:
    rest = _rest(local_server)
    paths = [trained.save_state(f"page-{i}").result(timeout=SDK_TIMEOUT).path for i in range(3)]
    rest.publish_checkpoint_from_tinker_path(paths[0]).result(timeout=SDK_TIMEOUT)
    assert _checkpoint(rest, paths[0]).public is True
    rest.publish_checkpoint_from_tinker_path(paths[0]).result(timeout=SDK_TIMEOUT)  # again: no error
    assert _checkpoint(rest, paths[0]).public is True
    rest.unpublish_checkpoint_from_tinker_path(paths[0]).result(timeout=SDK_TIMEOUT)
    assert _checkpoint(rest, paths[0]).public is False

    everything = rest.list_user_checkpoints(limit=100, offset=0).result(timeout=SDK_TIMEOUT)
    page = rest.list_user_checkpoints(limit=2, offset=1).result(timeout=SDK_TIMEOUT)
    assert page.cursor.total_count == len(everything.checkpoints) >= 3
    assert [c.tinker_path for c in page.checkpoints] == [c.tinker_path for c in everything.checkpoints[1:3]]

    info = rest.get_weights_info_by_tinker_path(paths[1]).result(timeout=SDK_TIMEOUT)
    assert (info.base_model, info.is_lora, info.lora_rank) == (TINY, True, 4)


def test_tinker_checkpoint_download_fetches_the_adapter(service_client, trained, local_server, tmp_path) -> None:
    from safetensors.torch import load_file

    from cookbook_tui.engine.checkpoints import CheckpointStore

    path = trained.save_state("to-download").result(timeout=SDK_TIMEOUT).path
    env = {**os.environ, "TINKER_BASE_URL": local_server.base_url, "TINKER_API_KEY": local_server.api_key}
    done = subprocess.run(
        [sys.executable, "-m", "tinker.cli", "checkpoint", "download", path, "--output", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    target = tmp_path / path.removeprefix("tinker://").replace("/", "_")
    assert json.loads((target / "adapter_config.json").read_text())["r"] == 4
    exported = load_file(str(target / "adapter_model.safetensors"))
    saved = load_file(str(CheckpointStore(local_server.data_dir).checkpoint_dir(path) / "adapter.safetensors"))
    # The trained LoRA tensors, under PEFT's names, and PEFT loads them onto the base model.
    assert sorted(round(float(t.double().sum()), 5) for t in exported.values()) == sorted(
        round(float(t.double().sum()), 5) for t in saved.values()
    )
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from cookbook_tui.common.tiny_model import ensure_tiny_model

    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(ensure_tiny_model())), str(target))
    loaded = {k.replace(".default", ""): v for k, v in peft_model.state_dict().items() if "lora_" in k}
    assert set(loaded) == set(exported)
    assert all(bool((loaded[k] == exported[k]).all()) for k in exported)
    # The CLI's temporary export was deleted again.
    rest = _rest(local_server)
    listed = rest.list_user_checkpoints(limit=1000).result(timeout=SDK_TIMEOUT).checkpoints
    assert not [c for c in listed if c.checkpoint_type == "external"]


def test_retrieve_futures_reports_finished_samples_and_cancel_future_stops_one(local_server) -> None:
    url = local_server.base_url
    session = json.loads(post_raw(url, "create_session", {"tags": [], "user_metadata": None, "sdk_version": "0.38.0"})[1])["session_id"]
    sampler = json.loads(
        post_raw(url, "create_sampling_session", {"session_id": session, "sampling_session_seq_id": 0, "base_model": TINY})[1]
    )["sampling_session_id"]

    def sample(seq_id: int, max_tokens: int) -> str:
        body = {
            "sampling_session_id": sampler, "seq_id": seq_id, "num_samples": 1,
            "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1, 2, 3]}]},
            "sampling_params": {"max_tokens": max_tokens, "temperature": 1.0},
        }
        return json.loads(post_raw(url, "asample", body)[1])["request_id"]

    quick = sample(0, 4)
    long_ones = [sample(i, 256) for i in range(1, 30)]
    cancelled = long_ones[-1]
    assert post_raw(url, "cancel_future", {"request_id": cancelled})[0] == 200
    status, raw = post_raw(url, "retrieve_future", {"request_id": cancelled})
    assert "cancelled by the client" in json.loads(raw)["error"]

    target = {"type": "sampling_session", "sampling_session_id": sampler, "cloned_sampler_id": 0}
    finished: dict = {}
    cursor = 0
    for _ in range(20):  # each long poll returns once something finished
        _, raw = post_raw(url, "retrieve_futures", {"target": target, "prev_cursor": cursor})
        polled = json.loads(raw)
        finished.update({c["request_id"]: c for c in polled["completions"]})
        cursor = polled["cursor"]
        if quick in finished:
            break
    assert quick in finished and finished[quick]["state"] == "finished"
    assert finished[quick]["response_payload_uncompressed_size"] > 0
    assert finished[cancelled]["state"] == "failed"
    # Acknowledged events are not reported again.
    _, raw = post_raw(url, "retrieve_futures", {"target": target, "prev_cursor": cursor, "timeout": 0})
    assert quick not in {c["request_id"] for c in json.loads(raw)["completions"]}
    post_raw(url, f"sessions/{session}/finish", {"reason": {"type": "success"}})


def test_the_sdk_polls_samples_through_retrieve_futures(service_client, local_server) -> None:
    import time

    from tinker import types

    sampler = service_client.create_sampling_client(base_model=TINY).result(timeout=SDK_TIMEOUT)
    futures = [
        sampler.sample(types.ModelInput.from_ints([1, 2, 3]), 1, types.SamplingParams(max_tokens=4)) for _ in range(3)
    ]
    assert all(len(f.result(timeout=SDK_TIMEOUT).sequences) == 1 for f in futures)
    log = next(
        log for target, log in local_server.engine_server.futures._logs.items()
        if target[0] == sampler._sampling_session_id
    )
    assert log.cursor >= 3
    # The SDK's session poller read the completions from /retrieve_futures and acknowledged them
    # (its next poll's prev_cursor trims them); without it they would stay.
    deadline = time.monotonic() + 10
    while log.events and time.monotonic() < deadline:
        time.sleep(0.1)
    assert log.events == []
