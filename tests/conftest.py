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
    from cookbook_tui.runners.tiny_model import ensure_tiny_model

    return ensure_tiny_model()
