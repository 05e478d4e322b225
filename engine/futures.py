"""Server-side futures and per-model ordering, all on the server's event loop.

A request that does model work answers at once with a request id; the SDK then asks
`retrieve_future` for the result, and the server holds that request open on an `asyncio.Event`
until the result is ready or the hold time passes (then it answers `try_again` and the SDK asks
again at once). Nothing polls.

Requests on one training model run one at a time in `seq_id` order (the SDK numbers them 1, 2, …
per model and may send them concurrently), as the real service does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pydantic

from .errors import EngineError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FutureOutcome:
    """What `retrieve_future` answers once a request is done: a tinker response model (sent as
    JSON), protobuf bytes, or an error with its category ("user", "server" or "unknown", as the
    SDK's `RequestErrorCategory` spells them)."""

    result: pydantic.BaseModel | None = None
    proto: bytes | None = None
    error: str | None = None
    category: str = "user"


@dataclass
class PendingFuture:
    request_id: str
    kind: str
    # The session whose work this is (the scheduler's queue key), and for samples the
    # (sampling session, clone) that `retrieve_futures` reports it under.
    session: str | None = None
    target: tuple[str, int] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: FutureOutcome | None = None
    finished_at: float | None = None
    delivered_at: float | None = None
    # Set once the work is no longer wanted (session expired, client hung up, cancel_future):
    # the scheduler skips it, the sampler drops it at its next step.
    cancel_reason: str | None = None
    # retrieve_future calls holding this future right now.
    watchers: int = 0

    def is_cancelled(self) -> bool:
        return self.cancel_reason is not None


@dataclass
class _CompletionLog:
    """What `retrieve_futures` reports for one (sampling session, clone): finished request ids,
    each under a cursor that only grows."""

    cursor: int = 0
    events: list[tuple[int, str, bool, int]] = field(default_factory=list)  # cursor, id, ok, size
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    watchers: int = 0  # retrieve_futures polls held right now

    def trim(self, seen: int) -> None:
        self.events = [event for event in self.events if event[0] > seen]


class FutureStore:
    """Every request id the server handed out, until a while after it finished.

    A delivered result is kept `keep_delivered_seconds` (the SDK asks again after a dropped
    connection), an undelivered one `keep_seconds` (a client may be slow to ask).
    """

    def __init__(self, keep_seconds: float = 900.0, keep_delivered_seconds: float = 60.0) -> None:
        self._futures: dict[str, PendingFuture] = {}
        self._counter = itertools.count()
        # Ids differ between server processes, so a stale client never reads another's result.
        self._prefix = uuid.uuid4().hex[:8]
        self._keep_seconds = keep_seconds
        self._keep_delivered_seconds = keep_delivered_seconds
        self._logs: dict[tuple[str, int], _CompletionLog] = {}

    def create(
        self, kind: str, *, session: str | None = None, target: tuple[str, int] | None = None
    ) -> PendingFuture:
        self._forget_old()
        request_id = f"{self._prefix}-{next(self._counter)}-{kind}"
        future = PendingFuture(request_id=request_id, kind=kind, session=session, target=target)
        self._futures[request_id] = future
        return future

    def get(self, request_id: str) -> PendingFuture | None:
        return self._futures.get(request_id)

    def unfinished(self, session: str) -> list[PendingFuture]:
        return [f for f in self._futures.values() if f.session == session and not f.done.is_set()]

    def finish(self, future: PendingFuture, outcome: FutureOutcome) -> None:
        if future.done.is_set():
            return  # cancelled first: the late answer has nobody to go to
        future.outcome = outcome
        future.finished_at = time.monotonic()
        future.done.set()
        if future.target is not None:
            log = self.log(future.target)
            log.cursor += 1
            size = len(outcome.proto or b"") if outcome.error is None else 0
            log.events.append((log.cursor, future.request_id, outcome.error is None, size))
            log.changed.set()
            log.changed = asyncio.Event()

    def cancel(self, future: PendingFuture, reason: str) -> None:
        """Stop wanting `future`'s work: the scheduler skips it and its waiter gets `reason`."""
        if future.done.is_set():
            return
        future.cancel_reason = reason
        self.finish(future, FutureOutcome(error=reason, category="user"))

    def delivered(self, request_id: str) -> None:
        future = self._futures.get(request_id)
        if future is not None and future.done.is_set() and future.delivered_at is None:
            future.delivered_at = time.monotonic()

    def unfinished_of_target(self, target: tuple[str, int]) -> list[PendingFuture]:
        return [f for f in self._futures.values() if f.target == target and not f.done.is_set()]

    def log(self, target: tuple[str, int]) -> _CompletionLog:
        log = self._logs.get(target)
        if log is None:
            log = self._logs[target] = _CompletionLog()
        return log

    async def wait(
        self,
        future: PendingFuture,
        hold_seconds: float,
        gone: Callable[[], bool] | None = None,
        check_seconds: float = 0.5,
    ) -> FutureOutcome | None:
        """The outcome (now counted as delivered), or None if not ready within `hold_seconds`
        or once `gone()` says the caller's connection closed."""
        if not future.done.is_set():
            deadline = time.monotonic() + hold_seconds
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    await asyncio.wait_for(future.done.wait(), timeout=min(left, check_seconds))
                    break
                except TimeoutError:
                    if gone is not None and gone():
                        return None
        future.delivered_at = time.monotonic()
        return future.outcome

    def _forget_old(self) -> None:
        now = time.monotonic()
        stale = [
            rid
            for rid, fut in self._futures.items()
            if (fut.delivered_at is not None and fut.delivered_at < now - self._keep_delivered_seconds)
            or (fut.finished_at is not None and fut.finished_at < now - self._keep_seconds)
        ]
        for rid in stale:
            del self._futures[rid]


Job = Callable[[], Awaitable[None]]


class OrderedQueue:
    """Runs one model's jobs one at a time, in `seq_id` order.

    A job whose `seq_id` is ahead waits for the ones before it. If a number never arrives (a
    client that failed between reserving and sending it) the queue moves on after
    `gap_seconds`, so one lost request cannot wedge a model. A job without a `seq_id`, or with
    one already passed, runs next.
    """

    def __init__(self, name: str, next_seq: int, gap_seconds: float = 30.0) -> None:
        self._name = name
        self._next_seq = next_seq
        self._gap_seconds = gap_seconds
        self._waiting: dict[int, Job] = {}
        self._immediate: deque[Job] = deque()
        self._skipped: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def submit(self, seq_id: int | None, job: Job) -> None:
        self._skipped.discard(seq_id)  # sent again after a refusal: wait for it after all
        if seq_id is None or seq_id < self._next_seq:
            self._immediate.append(job)
        elif seq_id in self._waiting:
            raise EngineError(f"{self._name}: seq_id {seq_id} was already submitted")
        else:
            self._waiting[seq_id] = job
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"queue {self._name}")

    def skip(self, seq_id: int) -> None:
        """A request the server refused before queueing it: its number will never arrive, so
        the jobs after it must not wait `gap_seconds` for it."""
        if seq_id >= self._next_seq and seq_id not in self._waiting:
            self._skipped.add(seq_id)
            self._wake.set()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _pop_ready(self) -> Job | None:
        if self._immediate:
            return self._immediate.popleft()
        while self._next_seq in self._skipped:
            self._skipped.discard(self._next_seq)
            self._next_seq += 1
        job = self._waiting.pop(self._next_seq, None)
        if job is not None:
            self._next_seq += 1
        return job

    async def _run(self) -> None:
        while True:
            job = self._pop_ready()
            if job is not None:
                await job()
                continue
            self._wake.clear()
            if not self._waiting:
                await self._wake.wait()
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._gap_seconds)
            except TimeoutError:
                lowest = min(self._waiting)
                logger.warning(
                    "%s: seq_id %d never arrived after %.0f s; continuing at %d",
                    self._name,
                    self._next_seq,
                    self._gap_seconds,
                    lowest,
                )
                self._next_seq = lowest
