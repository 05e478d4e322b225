"""Hostile and broken requests over real sockets: every one gets a 4xx with a JSON message (or,
for a client that hangs up mid-body, no traceback in the server's log), never a 5xx or a hang,
and afterwards the server still answers healthz and an unmodified SDK client still trains."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass

import pytest
from reliability_helpers import (
    TINY,
    LiveIds,
    create_live_ids,
    forward_backward_proto,
    future_result,
    post_json,
    raw_request,
    sample_request,
    sdk_trains_a_step,
)
from server_helpers import wait_healthy

pytestmark = pytest.mark.xdist_group("reliability-robustness")

MAX_BODY = 512 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@pytest.fixture(scope="module")
def server(tiny_model_path, tmp_path_factory):
    from cookbook_tui.engine import start_local_server

    # A short hold: a future not ready within one hold answers try_again, which a test can see.
    data_dir = tmp_path_factory.mktemp("robust")
    with start_local_server(data_dir=data_dir, max_body_bytes=MAX_BODY, hold_seconds=5.0) as server:
        wait_healthy(server.base_url)
        yield server


@pytest.fixture(scope="module")
def live(server) -> LiveIds:
    return create_live_ids(server.base_url)


@dataclass(frozen=True)
class Bad:
    case: str
    method: str
    path: str  # under /api/v1/ unless it starts with "/"
    body: bytes
    status: int
    needle: str  # text the error message must hold
    content_type: str = JSON

    @property
    def url_path(self) -> str:
        return self.path if self.path.startswith("/") else f"/api/v1/{self.path}"


def _post(case: str, path: str, body, status: int, needle: str, content_type: str = JSON) -> Bad:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Bad(case, "POST", path, data, status, needle, content_type)


def _bad_requests(live: LiveIds) -> list[Bad]:
    valid_fb = forward_backward_proto(live.model_id, 10_000, [1, 2, 3, 4])
    garbled = bytearray(valid_fb)
    for i in random.Random(0).sample(range(len(garbled)), 8):
        garbled[i] ^= 0xFF
    ghost = "nobody:train:0"
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        _post("cut protobuf", "forward_backward", valid_fb[: len(valid_fb) // 2], 400, "forward_backward", PROTOBUF),
        _post("garbled protobuf", "forward_backward", bytes(garbled), 400, "forward_backward", PROTOBUF),
        _post("JSON to the protobuf endpoint", "forward_backward", {"model_id": "x"}, 400, "forward_backward"),
        _post("protobuf to a JSON endpoint", "create_model", valid_fb, 400, "not valid JSON", PROTOBUF),
        _post("form body", "create_session", b"tags=a&b=c", 400, "not valid JSON", "application/x-www-form-urlencoded"),
        _post("invalid UTF-8 JSON", "create_session", b'{"tags": ["\xff\xfe\xfd"]}', 400, "not valid JSON"),
        _post("deeply nested JSON", "create_session", deep, 400, "nested too deeply"),
        _post("deep JSON in a field", "create_model", b'{"session_id": ' + deep[:100_000] + b"}", 400, "nested too deeply"),
        _post("JSON array", "optim_step", [1, 2, 3], 400, "expected a JSON object"),
        _post("unknown endpoint", "no_such_thing", {}, 404, "no_such_thing"),
        Bad("unknown GET endpoint", "GET", "models/x", b"", 404, "models/x"),
        Bad("outside the API", "GET", "/", b"", 404, "not an endpoint"),
        Bad("GET on a POST route", "GET", "forward_backward", b"", 405, "GET"),
        Bad("PUT on a GET route", "PUT", "healthz", b"{}", 405, "PUT"),
        Bad("DELETE on a POST route", "DELETE", "create_session", b"", 405, "DELETE"),
        _post("unknown session", "create_model", {"session_id": "ghost", "model_seq_id": 0, "base_model": TINY}, 404, "ghost"),
        _post("unknown session heartbeat", "session_heartbeat", {"session_id": "ghost"}, 404, "ghost"),
        _post("unknown model fwd", "forward_backward", forward_backward_proto(ghost, 1, [1, 2]), 404, ghost, PROTOBUF),
        _post("unknown model optim", "optim_step", {"model_id": ghost, "seq_id": 1, "adam_params": {"learning_rate": 0.1}}, 404, ghost),
        _post("unknown model save", "save_weights", {"model_id": ghost, "path": "x", "seq_id": 1}, 404, ghost),
        _post("unknown model info", "get_info", {"model_id": ghost}, 404, ghost),
        _post("unknown sampler", "asample", sample_request("ghost:sample:0", [1, 2]), 404, "ghost:sample:0"),
        Bad("unknown sampler GET", "GET", "samplers/ghost:sample:9", b"", 404, "ghost:sample:9"),
        _post("unknown future", "retrieve_future", {"request_id": "ghost-1-x"}, 404, "ghost-1-x"),
        Bad("unknown run", "GET", "training_runs/ghost:train:0/checkpoints", b"", 404, "ghost:train:0"),
        Bad("unknown checkpoint", "DELETE", f"training_runs/{live.model_id}/checkpoints/weights/ghost", b"", 404, "ghost"),
        _post(
            "sampler from an unknown checkpoint",
            "create_sampling_session",
            {"session_id": live.session_id, "sampling_session_seq_id": 50, "model_path": f"tinker://{live.model_id}/weights/ghost"},
            404,
            "ghost",
        ),
        _post("not a tinker path", "weights_info", {"tinker_path": "s3://x"}, 400, "s3://x"),
        _post("zero samples", "asample", sample_request(live.sampler_id, [1, 2], num_samples=0), 400, "num_samples"),
        _post("negative samples", "asample", sample_request(live.sampler_id, [1, 2], num_samples=-5), 400, "num_samples"),
        _post("a billion samples", "asample", sample_request(live.sampler_id, [1, 2], num_samples=10**9), 400, "num_samples"),
        Bad("bad paging", "GET", "training_runs?limit=-1", b"", 400, "limit"),
    ]


_CASES = [bad.case for bad in _bad_requests(LiveIds("", "s", "m:train:0", "m:sample:0"))]


@pytest.mark.parametrize("case", _CASES)
def test_a_bad_request_gets_a_4xx_with_a_json_message(server, live, case) -> None:
    bad = next(b for b in _bad_requests(live) if b.case == case)
    answer = raw_request(server.port, bad.method, bad.url_path, bad.body, content_type=bad.content_type)
    assert answer.status == bad.status, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    assert bad.needle in answer.json()["error"]
    wait_healthy(server.base_url)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server) -> None:
    """1 GB declared, 2 bytes sent: the answer comes at once (the server does not wait for the
    body), instead of the client waiting out its own timeout."""
    answer = raw_request(server.port, "POST", "/api/v1/create_session", b"{}", content_length=10**9)
    assert answer.status == 413
    assert "too large" in answer.json()["error"]
    wait_healthy(server.base_url)


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("create_session", b'{"tags": [], "user_meta', "application/json"),
        ("forward_backward", b"\x0a\x10nobody:train:0\x10", PROTOBUF),
    ],
)
def test_a_client_that_hangs_up_mid_body_leaves_no_error_and_a_serving_server(
    server, caplog, path, body, content_type
) -> None:
    caplog.set_level(logging.DEBUG, logger="cookbook_tui.engine")
    for _ in range(5):
        url = f"/api/v1/{path}"
        raw_request(server.port, "POST", url, body, content_type=content_type, content_length=len(body) + 100, close_after_send=True)
    wait_healthy(server.base_url)
    assert post_json(server.base_url, "healthz", b"")[0] == 405  # a full round trip after the hang-ups
    engine_records = [r for r in caplog.records if r.name.startswith("cookbook_tui.engine")]
    errors = [r for r in engine_records if r.levelno >= logging.WARNING]
    assert not errors, [r.getMessage() for r in errors]


def test_out_of_range_token_ids_are_the_callers_error(server, live) -> None:
    """Token ids outside the vocabulary come back as a user error naming the id, not as torch's
    IndexError reported as the server's fault."""
    for tokens, bad in (([1, 2, 99_999], 99_999), ([1, -7, 3], -7)):
        body = forward_backward_proto(live.model_id, live.next_seq(), tokens, targets=[1, 2, 3])
        answer = raw_request(server.port, "POST", "/api/v1/forward_backward", body, content_type=PROTOBUF)
        assert answer.status == 200
        result = future_result(server.base_url, answer.json()["request_id"])
        assert result["category"] == "user" and str(bad) in result["error"] and "vocabulary" in result["error"]

        status, started = post_json(server.base_url, "asample", sample_request(live.sampler_id, tokens))
        assert status == 200
        result = future_result(server.base_url, started["request_id"])
        assert result["category"] == "user" and str(bad) in result["error"]


def test_out_of_range_targets_and_overlong_inputs_are_the_callers_error(server, live) -> None:
    body = forward_backward_proto(live.model_id, live.next_seq(), [1, 2, 3], targets=[1, 2, 4096])
    answer = raw_request(server.port, "POST", "/api/v1/forward_backward", body, content_type=PROTOBUF)
    result = future_result(server.base_url, answer.json()["request_id"])
    assert result["category"] == "user" and "vocabulary" in result["error"]

    body = forward_backward_proto(live.model_id, live.next_seq(), [5] * 4500)  # context 4096
    answer = raw_request(server.port, "POST", "/api/v1/forward_backward", body, content_type=PROTOBUF)
    result = future_result(server.base_url, answer.json()["request_id"])
    assert result["category"] == "user" and "context length" in result["error"]


@pytest.mark.parametrize(("prompt_len", "max_tokens"), [(2, 5000), (4000, 100), (4100, 1)])  # the tiny model: context 4096
def test_sampling_past_the_context_is_the_callers_error(server, live, prompt_len, max_tokens) -> None:
    request = sample_request(live.sampler_id, [7] * prompt_len, max_tokens=max_tokens)
    status, started = post_json(server.base_url, "asample", request)
    assert status == 200
    result = future_result(server.base_url, started["request_id"])
    assert result["category"] == "user" and "context length" in result["error"]


def test_after_every_bad_request_the_sdk_still_trains(server, live) -> None:
    for bad in _bad_requests(live):
        answer = raw_request(server.port, bad.method, bad.url_path, bad.body, content_type=bad.content_type)
        assert answer.status == bad.status, bad.case
    losses = sdk_trains_a_step(server.base_url, server.api_key, steps=4)
    assert losses[-1] < losses[0]


def test_a_refused_forward_backward_does_not_hold_up_the_next_one(server, live) -> None:
    """The server runs a model's requests in seq_id order and waits (30 s) for a missing number.
    A request it refused never joins that order, so the next one must not wait for it."""
    from tinker.proto import tinker_public_pb2 as pb

    refused = pb.ForwardBackwardRequest()
    refused.ParseFromString(forward_backward_proto(live.model_id, live.next_seq(), [1, 2, 3]))
    refused.data[0].model_input.add().image.data = b"not supported here"
    answer = raw_request(server.port, "POST", "/api/v1/forward_backward", refused.SerializeToString(), content_type=PROTOBUF)
    assert answer.status == 400 and "image" in answer.json()["error"]

    body = forward_backward_proto(live.model_id, live.next_seq(), [1, 2, 3])
    answer = raw_request(server.port, "POST", "/api/v1/forward_backward", body, content_type=PROTOBUF)
    assert answer.status == 200
    status, result = post_json(server.base_url, "retrieve_future", {"request_id": answer.json()["request_id"]})
    assert status == 200 and isinstance(result, bytes), result  # the output itself, not try_again
