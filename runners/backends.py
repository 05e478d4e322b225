"""Where the cookbook's Tinker clients point: the local engine or the Tinker service."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cookbook_tui.recipes import Recipe
from cookbook_tui.runners.service_probe import BackendError, probe_service

__all__ = ["BackendError", "open_backend", "probe_service"]


@contextmanager
def open_backend(recipe: Recipe, data_dir: Path | None = None) -> Iterator[str | None]:
    """Yield the `base_url` for the cookbook configs; None means the SDK's default (the service).

    backend = "local": start the engine on a free loopback port for this run and stop it after.
    The SDK wants an API key even there: the engine's loopback key is exported for the run.
    """
    if recipe.backend == "tinker":
        if not os.environ.get("TINKER_API_KEY"):
            raise BackendError("backend \"tinker\" needs the TINKER_API_KEY environment variable")
        base_url = os.environ.get("TINKER_BASE_URL") or None
        probe_service(base_url)
        yield base_url
        return
    from cookbook_tui.common.tiny_model import ensure_tiny_model, is_tiny_model, set_offline_env

    set_offline_env()
    if is_tiny_model(recipe.model_name):
        ensure_tiny_model()
    from cookbook_tui.engine import start_local_server

    try:
        server = start_local_server(data_dir=data_dir)
    except (OSError, ValueError) as exc:
        raise BackendError(f"the local engine did not start: {exc}") from exc
    saved_key = os.environ.get("TINKER_API_KEY")
    os.environ["TINKER_API_KEY"] = server.api_key
    try:
        with server:
            yield server.base_url
    finally:
        if saved_key is None:
            os.environ.pop("TINKER_API_KEY", None)
        else:
            os.environ["TINKER_API_KEY"] = saved_key
