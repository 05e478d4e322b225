"""The Tinker backend is probed with our own deadline before the SDK's minutes-long retries."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cookbook_tui.runners.backends import BackendError, probe_service


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_service_is_a_clear_error_naming_the_url() -> None:
    port = _closed_port()
    with pytest.raises(BackendError) as err:
        probe_service(f"http://127.0.0.1:{port}", timeout=2)
    assert f"127.0.0.1:{port}/api/v1/healthz" in str(err.value)
    assert "cannot reach the Tinker service" in str(err.value)


def test_a_service_that_answers_passes_even_with_an_http_error() -> None:
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(401 if self.path.endswith("/healthz") else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        probe_service(f"http://127.0.0.1:{server.server_port}", timeout=2)
    finally:
        server.shutdown()
