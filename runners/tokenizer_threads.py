"""Fast tokenizers made safe to share between threads, in the runner's process.

tinker-cookbook renders prompts from thread pools with one shared tokenizer (`rl/message_env.py`
`_render_in_thread`; the benchmark runner's `concurrency`). transformers 5.x's fast tokenizer
mutates its Rust backend before every encode (`encode_special_tokens`, truncation and padding, in
`TokenizersBackend._encode_plus`), so two threads at once raise `RuntimeError: Already borrowed`
(measured: 3036 of 6400 calls from 32 threads with the qwen3 renderer), and one could encode with
the other's flag. Every call that touches the backend holds one lock per tokenizer instead. The
SDK's own work is untouched, and site-packages is never edited: the class's methods are wrapped in
this process only.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# The TokenizersBackend methods that read or write its Rust tokenizer after construction.
_LOCKED_METHODS = (
    "_encode_plus",
    "_decode",
    "convert_ids_to_tokens",
    "_convert_token_to_id_with_added_voc",
    "_convert_id_to_token",
    "set_truncation_and_padding",
)
_LOCK_ATTRIBUTE = "_cookbook_tui_backend_lock"
_lock_creation = threading.Lock()


def _backend_lock(tokenizer: Any) -> threading.RLock:
    lock = tokenizer.__dict__.get(_LOCK_ATTRIBUTE)
    if lock is None:
        with _lock_creation:
            lock = tokenizer.__dict__.setdefault(_LOCK_ATTRIBUTE, threading.RLock())
    return lock


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _backend_lock(self):  # re-entrant: _encode_plus calls set_truncation_and_padding
            return method(self, *args, **kwargs)

    call.__cookbook_tui_locked__ = True  # type: ignore[attr-defined]
    return call


def make_tokenizers_thread_safe() -> None:
    """Idempotent. Fails loudly if transformers no longer has a method this relies on, rather than
    leaving the race in place unseen."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    for name in _LOCKED_METHODS:
        method = getattr(TokenizersBackend, name, None)
        if method is None:
            raise RuntimeError(
                f"transformers' TokenizersBackend has no {name!r}: update runners/tokenizer_threads.py "
                "for this transformers version"
            )
        if not getattr(method, "__cookbook_tui_locked__", False):
            setattr(TokenizersBackend, name, _locked(method))
