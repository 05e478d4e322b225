"""Can a Hugging Face dataset or model a recipe names be had? Answered within a deadline.

The local cache is checked first (no network); only then the hub, from a daemon thread that is
abandoned when the deadline passes, so an unreachable network costs at most `timeout` seconds
instead of the 23-47 s the libraries take to give up.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

HUB_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class HubAnswer:
    ok: bool
    reason: str = ""  # why not, in words a user can act on


def _hub_cache_dir() -> Path:
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return _hf_home() / "hub"


def _hf_home() -> Path:
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface"


def in_local_cache(repo_id: str, repo_type: str) -> bool:
    """True when the hub cache (or, for datasets, the `datasets` library cache) holds the repo."""
    folder = f"{repo_type}s--" + repo_id.replace("/", "--")
    if (_hub_cache_dir() / folder / "snapshots").is_dir():
        return True
    if repo_type == "dataset":
        datasets_cache = Path(os.environ.get("HF_DATASETS_CACHE") or _hf_home() / "datasets")
        if (datasets_cache / repo_id.replace("/", "___")).is_dir():
            return True
    return False


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def check_hub_repo(repo_id: str, repo_type: str, timeout: float = HUB_TIMEOUT_S) -> HubAnswer:
    """Whether `repo_id` (a "dataset" or "model") is cached or answers on the hub within `timeout`."""
    if in_local_cache(repo_id, repo_type):
        return HubAnswer(True)
    if _offline():
        return HubAnswer(False, "not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 keeps the hub out of reach")
    result: dict[str, HubAnswer] = {}

    def ask() -> None:
        try:
            from huggingface_hub import HfApi
            from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError

            api = HfApi()
            try:
                if repo_type == "dataset":
                    api.dataset_info(repo_id, timeout=timeout)
                else:
                    api.model_info(repo_id, timeout=timeout)
                result["answer"] = HubAnswer(True)
            except GatedRepoError:
                result["answer"] = HubAnswer(True)  # exists; access is the user's token's business
            except RepositoryNotFoundError:
                result["answer"] = HubAnswer(False, f"no such {repo_type} on the Hugging Face hub")
        except Exception as exc:  # network errors come in many types; all mean "unreachable"
            result["answer"] = HubAnswer(False, f"the Hugging Face hub is unreachable ({type(exc).__name__})")

    thread = threading.Thread(target=ask, name=f"hub-check-{repo_id}", daemon=True)
    thread.start()
    thread.join(timeout)
    return result.get(
        "answer", HubAnswer(False, f"the Hugging Face hub did not answer within {timeout:g} s")
    )
