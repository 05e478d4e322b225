"""Is the Tinker service there? One probe with our own deadline, light enough for the TUI (it
imports no engine and no SDK client; runners.remote and the backends use it)."""

from __future__ import annotations

import urllib.error
import urllib.request


class BackendError(Exception):
    """The backend cannot be used (no API key, the service unreachable, the engine did not start)."""


# The SDK retries an unreachable service with back-off for minutes; our probe answers in seconds.
SERVICE_PROBE_SECONDS = 5.0


def probe_service(base_url: str | None, timeout: float = SERVICE_PROBE_SECONDS) -> None:
    """Raise BackendError unless the Tinker service answers `GET /api/v1/healthz` in time."""
    from tinker.lib.base_url import resolve_base_url

    url = resolve_base_url(base_url) + "/api/v1/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered: reachable (auth and the rest are the SDK's business)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BackendError(f"cannot reach the Tinker service at {url} within {timeout:g} s: {reason}") from exc
