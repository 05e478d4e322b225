"""Shared by the server tests: a server over a real Engine and an unmodified SDK client for it
(fixtures, imported by the test modules that use them), the tiny model's name, an SDK deadline
and a health probe."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

TINY = "cookbook-tui/tiny-chat"
SDK_TIMEOUT = 120  # seconds for any one SDK future: a wedged server fails the test, not the run


def wait_healthy(base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
    """Probe /api/v1/healthz: the SDK itself would retry a dead server for minutes."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{base_url}/api/v1/healthz", headers={"X-API-Key": api_key or ""})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                assert json.load(response) == {"status": "ok"}
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def post_raw(base_url: str, path: str, body: dict, timeout: float = 40) -> tuple[int, bytes]:
    """POST a JSON body to /api/v1/<path>, as a client without the SDK would: (status, body)."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def local_server(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    from cookbook_tui.engine import start_local_server

    server = start_local_server(data_dir=tmp_path_factory.mktemp("server-data"))
    try:
        wait_healthy(server.base_url)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def service_client(local_server):
    import tinker

    client = tinker.ServiceClient(base_url=local_server.base_url, api_key=local_server.api_key)
    yield client
    client.close("success").result(timeout=30)


def one_datum():
    """A four-token cross-entropy datum: enough for a real forward_backward + optim_step."""
    from tinker import types

    return types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3, 4]),
        loss_fn_inputs={"target_tokens": [2, 3, 4, 5], "weights": [1.0] * 4},
    )
