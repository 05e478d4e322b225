"""The contract between the server's scheduler and the engine's sampler: one `SampleJob` a request.

The scheduler (fair across sessions) hands the engine a list of sample jobs at once, on the engine's
worker thread, through `Engine.sample_batch(jobs, take_more)`. The engine may decode them together
(continuous batching) and, at each decode-step boundary, call `take_more()` for jobs queued since,
which join the running batch. Each job is answered through its own `on_done` as soon as it is
finished, so a short request leaves the batch without waiting for a long one. A job whose
`is_cancelled()` turns true (its session expired, its client hung up) is dropped at the next
boundary and answered with `SampleCancelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tinker import types

from .errors import EngineError


class SampleCancelled(EngineError):
    """A sample job dropped before it finished: its session expired or its client went away."""


def _never() -> bool:
    return False


@dataclass
class SampleJob:
    sampler_id: str
    request: types.SampleRequest  # every sampling option the SDK can send, as the SDK's own type
    on_done: Callable[[types.SampleResponse | BaseException], None]
    session_id: str | None = None
    is_cancelled: Callable[[], bool] = field(default=_never)


class BatchSampler(Protocol):
    """The engine side of the contract (`Engine.sample_batch`), as the scheduler holds it."""

    def sample_batch(self, jobs: list[SampleJob], take_more: Callable[[], list[SampleJob]] | None = None) -> None: ...
