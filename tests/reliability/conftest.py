"""Fixtures for the reliability tests: raw-socket HTTP against a live local server, and the
engine tests' server helpers (tests/engine has no __init__.py, so its folder joins sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

# Tests share 2 cores with other workers: one torch thread keeps tiny-model steps fast (see
# tests/engine/conftest.py).
torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "engine"))
