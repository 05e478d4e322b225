"""Raw HTTP over a socket (so a test controls Content-Length, truncation and bytes exactly), the
local server's JSON endpoints, and an SDK check that a server still trains."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import numpy as np

TINY = "cookbook-tui/tiny-chat"
SOCKET_TIMEOUT = 10.0  # seconds: a server that stops answering fails the test, not the run


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw_request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    content_length: int | None = None,
    close_after_send: bool = False,
    timeout: float = SOCKET_TIMEOUT,
) -> Answer | None:
    """Send one HTTP/1.1 request as bytes and read one answer (by its Content-Length, so a server
    still draining a body cannot make us wait). `close_after_send` closes our side right after
    the (possibly short) body, as a client that dies mid-upload does; then there is no answer."""
    length = len(body) if content_length is None else content_length
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        if close_after_send:
            return None
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{method} {path}: connection closed without an answer: {data!r}")
            data += chunk
        header_bytes, rest = data.split(b"\r\n\r\n", 1)
        lines = header_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(rest) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Answer(status, headers, rest[:want])


def post_json(base_url: str, path: str, body, timeout: float = SOCKET_TIMEOUT) -> tuple[int, object]:
    """(status, decoded body) of a JSON POST; protobuf answers come back as bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}", data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            if response.headers.get_content_type() == "application/json":
                return response.status, json.loads(payload)
            return response.status, payload
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def future_result(base_url: str, request_id: str, deadline_s: float = 60.0):
    """The answer of a server-side future (JSON dict, or protobuf bytes), asking until ready."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, body = post_json(base_url, "retrieve_future", {"request_id": request_id}, timeout=deadline_s)
        assert status == 200, body
        if not (isinstance(body, dict) and body.get("type") == "try_again"):
            return body
    raise TimeoutError(f"future {request_id} not ready after {deadline_s} s")


@dataclass
class LiveIds:
    """A session, training model and sampler created on a server, for requests that need real ids.
    `next_seq` hands out the model's seq_ids in order (the server runs them in that order)."""

    base_url: str
    session_id: str
    model_id: str
    sampler_id: str
    _seq: int = field(default=0)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq


def create_live_ids(base_url: str) -> LiveIds:
    status, session = post_json(
        base_url, "create_session", {"tags": [], "user_metadata": None, "sdk_version": "0.38.0"}
    )
    assert status == 200, session
    session_id = session["session_id"]
    status, created = post_json(
        base_url,
        "create_model",
        {"session_id": session_id, "model_seq_id": 0, "base_model": TINY, "lora_config": {"rank": 4}},
    )
    assert status == 200, created
    model_id = future_result(base_url, created["request_id"])["model_id"]
    status, sampler = post_json(
        base_url,
        "create_sampling_session",
        {"session_id": session_id, "sampling_session_seq_id": 0, "base_model": TINY},
    )
    assert status == 200, sampler
    return LiveIds(base_url, session_id, model_id, sampler["sampling_session_id"])


def forward_backward_proto(model_id: str, seq_id: int, tokens: list[int], targets: list[int] | None = None) -> bytes:
    """A ForwardBackwardRequest as the SDK encodes it, cross-entropy on `targets` (default: next token)."""
    from tinker import types
    from tinker.proto.request_conv import forward_backward_request_to_proto

    targets = targets if targets is not None else tokens[1:] + [tokens[0]]
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(tokens),
        loss_fn_inputs={"target_tokens": targets, "weights": [1.0] * len(tokens)},
    )
    request = types.ForwardBackwardRequest(
        forward_backward_input=types.ForwardBackwardInput(data=[datum], loss_fn="cross_entropy"),
        model_id=model_id,
        seq_id=seq_id,
    )
    return forward_backward_request_to_proto(request).SerializeToString()


def sample_request(sampler_id: str, tokens: list[int], num_samples: int = 1, max_tokens: int = 2) -> dict:
    return {
        "sampling_session_id": sampler_id,
        "seq_id": 0,
        "num_samples": num_samples,
        "prompt": {"chunks": [{"type": "encoded_text", "tokens": tokens}]},
        "sampling_params": {"max_tokens": max_tokens, "seed": 0},
    }


def sdk_trains_a_step(base_url: str, api_key: str, steps: int = 3) -> list[float]:
    """An unmodified SDK client creates a model and trains `steps` steps on one fixed sequence;
    returns the loss of each step (it falls when training works)."""
    import tinker
    from server_helpers import SDK_TIMEOUT
    from tinker import types

    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    try:
        client = service.create_lora_training_client(base_model=TINY, rank=4, seed=0).result(timeout=SDK_TIMEOUT)
        tokens = [10, 20, 30, 40, 50, 60]
        datum = types.Datum(
            model_input=types.ModelInput.from_ints(tokens[:-1]),
            loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * 5},
        )
        losses = []
        for _ in range(steps):
            out = client.forward_backward([datum], "cross_entropy").result(timeout=SDK_TIMEOUT)
            client.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=SDK_TIMEOUT)
            losses.append(float(out.metrics["loss:sum"]))
        assert np.isfinite(losses).all()
        return losses
    finally:
        service.close("success").result(timeout=30)


def sigkill_after_first_round(writer, marker: str, rng, max_delay: float) -> int:
    """Wait for a writer subprocess's first `marker` line, SIGKILL it at a random moment within
    `max_delay` s, and return how many rounds it reported finished."""
    import signal

    try:
        first = writer.stdout.readline()  # blocks until the first round is done
        assert first.startswith(marker), (first, writer.stderr.read() if writer.poll() is not None else "")
        time.sleep(rng.uniform(0.0, max_delay))
        writer.send_signal(signal.SIGKILL)
        rest = writer.communicate(timeout=30)[0]
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    return 1 + rest.count(marker)
