"""A seeded fuzz of the local server: random mutations of valid requests (bytes flipped, cut or
inserted; JSON fields deleted, added or given values of the wrong type or size) never get a 5xx,
every refusal is JSON, sampling futures that fail blame the caller, and afterwards the server
still answers healthz and an SDK client still trains."""

from __future__ import annotations

import copy
import json
import random

from reliability_helpers import (
    TINY,
    create_live_ids,
    forward_backward_proto,
    future_result,
    raw_request,
    sample_request,
    sdk_trains_a_step,
)
from server_helpers import wait_healthy

SEED = 20261128
MUTATIONS = 200
PROTOBUF = "application/x-protobuf"

# Values a field might wrongly hold: other types, extremes, odd strings, nesting.
ODD_VALUES = [
    None, True, 0, -1, 1.5, -(2**31), 2**31, 2**63, -(2**63), 10**30, float("1e308"), "", "x" * 2000,
    "\u00e9\u0000\ud7ff", "tinker://a:train:0/weights/b", "../../etc/passwd", [], [None], [1, "a"], {},
    {"type": "encoded_text", "tokens": [1]}, [[[[[[[[[[1]]]]]]]]]],
]


def _json_bases(live) -> list[tuple[str, dict]]:
    """Valid bodies for the JSON endpoints, on a model and sampler that exist."""
    return [
        ("create_session", {"tags": ["a"], "user_metadata": {"k": "v"}, "sdk_version": "0.38.0"}),
        ("create_model", {"session_id": live.session_id, "model_seq_id": 1, "base_model": TINY, "lora_config": {"rank": 2}}),
        ("asample", sample_request(live.sampler_id, [1, 2, 3], num_samples=2, max_tokens=3)),
        ("optim_step", {"model_id": live.model_id, "seq_id": 1, "adam_params": {"learning_rate": 0.01}}),
        ("save_weights", {"model_id": live.model_id, "path": "fuzz", "seq_id": 1}),
        ("get_info", {"model_id": live.model_id}),
        ("create_sampling_session", {"session_id": live.session_id, "sampling_session_seq_id": 1, "base_model": TINY}),
        ("retrieve_future", {"request_id": "x-1-y"}),
        ("session_heartbeat", {"session_id": live.session_id}),
        ("weights_info", {"tinker_path": f"tinker://{live.model_id}/weights/fuzz"}),
        ("load_weights", {"model_id": live.model_id, "path": f"tinker://{live.model_id}/weights/fuzz", "seq_id": 1, "optimizer": True}),
        ("save_weights_for_sampler", {"model_id": live.model_id, "path": "fz", "seq_id": 1}),
    ]


def _mutate_bytes(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    op = rng.randrange(4)
    if op == 0 and data:  # flip a few bytes
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
    elif op == 1:  # cut
        data = data[: rng.randrange(len(data) + 1)]
    elif op == 2:  # insert random bytes
        at = rng.randrange(len(data) + 1)
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:  # repeat a slice
        a = rng.randrange(len(data) + 1)
        b = rng.randrange(a, len(data) + 1)
        data[b:b] = data[a:b] * rng.randint(1, 4)
    return bytes(data)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, prefix + (i,))


def _mutate_json(rng: random.Random, body: dict) -> bytes:
    body = copy.deepcopy(body)
    path = rng.choice([p for p in _paths(body) if p])
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    op = rng.randrange(3)
    if op == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif op == 1 and isinstance(parent, dict):
        parent["unexpected_" + str(rng.randrange(100))] = rng.choice(ODD_VALUES)
    else:
        parent[path[-1]] = rng.choice(ODD_VALUES)
    return json.dumps(body).encode()


def _assert_refusal_is_json(case: str, answer) -> None:
    assert answer.status < 500, (case, answer.status, answer.body[:300])
    if answer.status >= 400:
        assert answer.headers["content-type"].startswith("application/json"), case
        assert answer.json()["error"], case


def test_random_mutations_of_valid_requests_never_get_a_5xx(tiny_model_path, tmp_path) -> None:
    from cookbook_tui.engine import start_local_server

    rng = random.Random(SEED)
    with start_local_server(data_dir=tmp_path, hold_seconds=2.0, max_body_bytes=1 << 20) as server:
        wait_healthy(server.base_url)
        live = create_live_ids(server.base_url)
        bases = _json_bases(live)
        valid_fb = forward_backward_proto(live.model_id, 1, [1, 2, 3, 4, 5])
        sample_futures = []
        for i in range(MUTATIONS):
            if i % 4 == 0:
                body, path, content_type = _mutate_bytes(rng, valid_fb), "forward_backward", PROTOBUF
            else:
                path, base = rng.choice(bases)
                raw = json.dumps(base).encode()
                body = _mutate_json(rng, base) if rng.random() < 0.6 else _mutate_bytes(rng, raw)
                content_type = "application/json"
            case = f"mutation {i}: {path} {body[:200]!r}"
            answer = raw_request(server.port, "POST", f"/api/v1/{path}", body, content_type=content_type)
            _assert_refusal_is_json(case, answer)
            if path == "asample" and answer.status == 200:
                sample_futures.append((case, answer.json()["request_id"]))

        # Sampling runs off the model queues, so its futures all finish: a failure must be the
        # caller's (a bad parameter), never an exception the engine did not expect.
        for case, request_id in sample_futures:
            result = future_result(server.base_url, request_id)
            if isinstance(result, dict) and "error" in result:
                assert result["category"] == "user", (case, result)

        wait_healthy(server.base_url)
        losses = sdk_trains_a_step(server.base_url, server.api_key, steps=4)
        assert losses[-1] < losses[0]
