"""Test-wide setup: offline Hugging Face, and a private cache and data dir for the whole session.

The environment is set at import time, before any test imports transformers or datasets (they
read HF_HUB_OFFLINE once, when imported); subprocesses that tests start inherit it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="cookbook-tui-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TINKER_TELEMETRY"] = "0"
os.environ.setdefault("HF_HOME", str(_SESSION_ROOT / "hf-home"))
os.environ.setdefault("COOKBOOK_TUI_DATA_DIR", str(_SESSION_ROOT / "data"))
os.environ.setdefault("COOKBOOK_TUI_CONFIG_DIR", str(_SESSION_ROOT / "config"))
os.environ.setdefault("COOKBOOK_TUI_CACHE_DIR", str(_SESSION_ROOT / "cache"))
os.environ.pop("TINKER_API_KEY", None)
os.environ.pop("TINKER_BASE_URL", None)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    from cookbook_tui.common.tiny_model import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="module")
def served(tiny_model_path, tmp_path_factory):
    """`cookbook-tui serve` in its own process on a free port: {TINKER_BASE_URL, TINKER_API_KEY}."""
    import subprocess
    import sys

    data_dir = tmp_path_factory.mktemp("served-data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cookbook_tui.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:  # ends if the server dies; the test then fails on the missing keys
        key, _, value = line.strip().partition("=")
        if key in ("TINKER_BASE_URL", "TINKER_API_KEY"):
            env[key] = value
        if len(env) == 2:
            break
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def pytest_collection_modifyitems(config, items) -> None:
    """`gpu` tests run where CUDA is present and are skipped, saying why, everywhere else."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)
