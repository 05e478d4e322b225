"""Raw HTTP against the local server: bad requests get 4xx with a JSON message and the server
keeps serving; keys are enforced when set; unsafe binds are refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from server_helpers import TINY, local_server, wait_healthy  # noqa: F401 (fixture)

pytestmark = pytest.mark.xdist_group("server-protocol")


def _post(base_url: str, path: str, body: bytes, *, content_type="application/json", headers=None):
    """(status, parsed JSON body) for a POST; errors are answers here, not exceptions."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _get(base_url: str, path: str, headers=None):
    request = urllib.request.Request(f"{base_url}/api/v1/{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _session(base_url: str) -> str:
    request = {"tags": [], "user_metadata": None, "sdk_version": "0.38.0"}
    status, body = _post(base_url, "create_session", json.dumps(request).encode())
    assert status == 200
    return body["session_id"]


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("create_session", b"{not json", 400, "not valid JSON"),
        ("create_session", b"[1, 2]", 400, "expected a JSON object"),
        ("create_model", b'{"session_id": "s"}', 400, "model_seq_id"),
        ("get_info", b'{"model_id": "nobody:train:0"}', 404, "nobody:train:0"),
        ("retrieve_future", b'{"request_id": "no-such-request"}', 404, "no-such-request"),
        ("optim_step", b'{"model_id": "nobody:train:0", "seq_id": 1, "adam_params": {}}', 404, "nobody"),
    ],
)
def test_bad_json_requests_get_4xx_with_a_message(local_server, path, body, status, needle) -> None:
    got_status, got = _post(local_server.base_url, path, body)
    assert got_status == status
    assert needle in got["error"]
    wait_healthy(local_server.base_url)


def test_malformed_protobuf_gets_400_and_the_server_keeps_serving(local_server) -> None:
    status, body = _post(
        local_server.base_url, "forward_backward", b"\xff\xff\xff garbage", content_type="application/x-protobuf"
    )
    assert status == 400
    assert "ForwardBackwardRequest" in body["error"]
    wait_healthy(local_server.base_url)


def test_protobuf_for_an_unknown_model_gets_404(local_server) -> None:
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.ForwardBackwardRequest(model_id="ghost:train:0", seq_id=1, loss_fn="cross_entropy")
    msg.data.add().model_input.add().encoded_text.tokens = b"\x01\x00\x00\x00"
    status, body = _post(
        local_server.base_url, "forward_backward", msg.SerializeToString(), content_type="application/x-protobuf"
    )
    assert status == 404 and "ghost:train:0" in body["error"]


def test_unknown_routes_samplers_and_runs_get_404(local_server) -> None:
    base = local_server.base_url
    assert _get(base, "samplers/nobody:sample:0")[0] == 404
    assert _get(base, "training_runs/nobody:train:0")[0] == 404
    status, body = _get(base, "no/such/endpoint")
    assert status == 404 and "no/such/endpoint" in body["error"]


def test_the_sdk_sampling_options_are_accepted(local_server) -> None:
    """prompt_alt_tokens_k, topk_sample_logprobs and target_prompt_logprobs are served (their
    values are checked in test_engine_batching and, through the SDK, test_server_model_families)."""
    session = _session(local_server.base_url)
    status, body = _post(
        local_server.base_url,
        "create_sampling_session",
        json.dumps({"session_id": session, "sampling_session_seq_id": 0, "base_model": TINY}).encode(),
    )
    assert status == 200
    request = {
        "sampling_session_id": body["sampling_session_id"],
        "seq_id": 0,
        "num_samples": 1,
        "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1, 2]}]},
        "sampling_params": {"max_tokens": 2},
        "prompt_alt_tokens_k": 3,
        "topk_sample_logprobs": 2,
    }
    status, body = _post(local_server.base_url, "asample", json.dumps(request).encode())
    assert status == 200 and body["request_id"], body


def test_asample_answers_one_sequence_id_per_sample(local_server) -> None:
    session = _session(local_server.base_url)
    _, created = _post(
        local_server.base_url,
        "create_sampling_session",
        json.dumps({"session_id": session, "sampling_session_seq_id": 0, "base_model": TINY}).encode(),
    )
    request = {
        "sampling_session_id": created["sampling_session_id"],
        "seq_id": 0,
        "num_samples": 3,
        "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1, 2]}]},
        "sampling_params": {"max_tokens": 2},
    }
    status, body = _post(local_server.base_url, "asample", json.dumps(request).encode())
    assert status == 200
    assert len(set(body["sample_sequence_ids"])) == 3


def test_oversized_bodies_get_413(tiny_model_path, tmp_path) -> None:
    from cookbook_tui.engine import start_local_server

    with start_local_server(data_dir=tmp_path, max_body_bytes=4096) as server:
        wait_healthy(server.base_url)
        status, body = _post(server.base_url, "telemetry", b"x" * 10_000)
        assert status == 413 and "too large" in body["error"]
        wait_healthy(server.base_url)


def test_api_key_is_required_on_every_request_when_set(tiny_model_path, tmp_path) -> None:
    from cookbook_tui.engine import start_local_server

    with start_local_server(data_dir=tmp_path, api_key="tml-secret") as server:
        assert server.api_key == "tml-secret"
        status, body = _get(server.base_url, "healthz")
        assert status == 401 and "X-API-Key" in body["error"]
        assert _get(server.base_url, "healthz", headers={"X-API-Key": "tml-wrong"})[0] == 401
        assert _get(server.base_url, "healthz", headers={"X-API-Key": "tml-secret"}) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("host", "api_key", "needle"),
    [("0.0.0.0", None, "API key is required"), ("127.0.0.1", "secret", "tml-")],
)
def test_unsafe_binds_and_bad_keys_are_refused(tmp_path, host, api_key, needle) -> None:
    from cookbook_tui.engine import start_local_server

    with pytest.raises(ValueError, match=needle):
        start_local_server(data_dir=tmp_path, host=host, api_key=api_key)


def _result(base_url: str, request_id: str) -> dict:
    """Wait for a JSON future (the server holds each call open until it is ready)."""
    while True:
        status, body = _post(base_url, "retrieve_future", json.dumps({"request_id": request_id}).encode())
        assert status == 200, body
        if body.get("type") != "try_again":
            return body


def test_requests_on_a_model_run_in_seq_id_order_not_arrival_order(local_server, tiny_tokenizer) -> None:
    from tinker import types
    from tinker.proto.request_conv import forward_backward_request_to_proto

    base = local_server.base_url
    session = _session(base)
    create = {"session_id": session, "model_seq_id": 0, "base_model": TINY, "lora_config": {"rank": 4}}
    status, created = _post(base, "create_model", json.dumps(create).encode())
    assert status == 200
    model_id = _result(base, created["request_id"])["model_id"]

    # optim_step (seq 2) arrives before the forward_backward (seq 1) that makes its gradient.
    optim = {"model_id": model_id, "seq_id": 2, "adam_params": {"learning_rate": 0.01}}
    status, optim_future = _post(base, "optim_step", json.dumps(optim).encode())
    assert status == 200
    tokens = tiny_tokenizer.encode("1+2=3;", add_special_tokens=False)
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * (len(tokens) - 1)},
    )
    request = types.ForwardBackwardRequest(
        forward_backward_input=types.ForwardBackwardInput(data=[datum], loss_fn="cross_entropy"),
        model_id=model_id,
        seq_id=1,
    )
    body = forward_backward_request_to_proto(request).SerializeToString()
    status, _ = _post(base, "forward_backward", body, content_type="application/x-protobuf")
    assert status == 200

    metrics = _result(base, optim_future["request_id"])["metrics"]
    assert metrics["engine/grad_norm"] > 0  # the step saw the gradient: forward_backward ran first


def test_a_finished_session_stops_heartbeats_and_refuses_new_models(local_server) -> None:
    base = local_server.base_url
    session = _session(base)
    beat = json.dumps({"session_id": session}).encode()
    assert _post(base, "session_heartbeat", beat) == (200, {"type": "session_heartbeat"})
    assert _post(base, f"sessions/{session}/finish", b'{"reason": {"type": "success"}}')[0] == 200
    status, body = _post(base, "session_heartbeat", beat)
    assert status == 410  # the SDK's heartbeat loop stops on 410
    create = {"session_id": session, "model_seq_id": 0, "base_model": TINY}
    status, body = _post(base, "create_model", json.dumps(create).encode())
    assert status == 400 and "finished" in body["error"]


def test_a_port_in_use_raises_oserror(local_server, tmp_path) -> None:
    from cookbook_tui.engine import start_local_server

    with pytest.raises(OSError):
        start_local_server(data_dir=tmp_path, port=local_server.port)
    wait_healthy(local_server.base_url)
