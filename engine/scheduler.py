"""Fair scheduling of model work: one queue per session, served round robin by one worker thread.

Every piece of model work the server does runs here, on one thread (one step at a time is as fast
as overlapping them on a few CPU cores, and keeps memory flat). Work is queued per *session*
(a tinker client's `session_id`; other callers pass their own key, e.g. the OpenAI endpoints), and
the worker takes the next item from the next session that has any, so a client that queued
hundreds of samples delays another client's training step by one item, not by all of them.

Order inside one training model (`seq_id`) is kept by `futures.OrderedQueue`, which hands this
scheduler a model's next job only when the one before it finished; samples have no order.

Sampling is batched: when the worker picks a sample job it also takes the other queued sample jobs
(of any session, in the same round-robin order, up to `sample_batch_cap`) and calls
`engine.sample_batch(jobs, take_more)`. `take_more()` hands over sample jobs queued since, unless
other work (a training step) is waiting: then it hands over nothing, the batch drains and the
waiting work runs next.

Cancellation: an item whose `is_cancelled()` is true when the worker reaches it is answered with
`SampleCancelled` without running; `drop(key)` answers a whole session's queued items at once (the
session expired). A sample already in a batch is dropped by the engine at its next step boundary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .sample_jobs import BatchSampler, SampleCancelled, SampleJob

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_BATCH_CAP = 64
# Concurrent requests reach the server a few ms apart (an RL loop sends one per group at once):
# a new batch waits this long at most, while more keep arriving, so they are prefilled together.
GATHER_SECONDS = 0.02
GATHER_QUIET_SECONDS = 0.003


def _never() -> bool:
    return False


@dataclass
class _Call:
    """A function to run on the worker; its result or exception lands in `future` on `loop`."""

    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    is_cancelled: Callable[[], bool] = field(default=_never)

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        def apply() -> None:
            if self.future.done():
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        try:
            self.loop.call_soon_threadsafe(apply)
        except RuntimeError:  # the loop closed: nobody is waiting any more
            pass


_Item = _Call | SampleJob


class Scheduler:
    def __init__(self, engine: BatchSampler, *, sample_batch_cap: int = DEFAULT_SAMPLE_BATCH_CAP) -> None:
        self.engine = engine
        self.sample_batch_cap = max(1, sample_batch_cap)
        # session key -> its queued items; the dict's order is the round-robin order.
        self._queues: OrderedDict[str, deque[_Item]] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self._samples_in_flight = 0
        self._thread = threading.Thread(target=self._work, name="cookbook-tui-engine", daemon=True)
        self._thread.start()

    # -- submitting (any thread; usually the event loop) ------------------------------------

    def call(
        self, key: str, fn: Callable[[], Any], *, is_cancelled: Callable[[], bool] = _never
    ) -> asyncio.Future[Any]:
        """Queue `fn` under `key`; await the returned future on the running loop for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._put(key, _Call(fn, loop, future, is_cancelled))
        return future

    def sample(self, key: str, job: SampleJob) -> None:
        """Queue a sample job under `key`; it is answered through its own `on_done` (on the
        worker thread)."""
        self._put(key, job)

    def _put(self, key: str, item: _Item) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the engine scheduler has stopped")
            self._queues.setdefault(key, deque()).append(item)
            self._cond.notify()

    def drop(self, key: str, reason: str) -> int:
        """Answer every queued item of `key` with `SampleCancelled(reason)`; returns how many."""
        with self._cond:
            items = list(self._queues.pop(key, ()))
        for item in items:
            _cancel(item, reason)
        return len(items)

    def queued(self, key: str | None = None) -> int:
        with self._cond:
            if key is not None:
                return len(self._queues.get(key, ()))
            return sum(len(q) for q in self._queues.values())

    def close(self) -> None:
        with self._cond:
            self._closed = True
            queues, self._queues = self._queues, OrderedDict()
            self._cond.notify_all()
        for queue in queues.values():
            for item in queue:
                _cancel(item, "the engine server is shutting down")

    # -- the worker -------------------------------------------------------------------------

    def _next(self) -> _Item | None:
        """Pop the next item round robin (the caller holds the lock)."""
        while self._queues:
            key, queue = next(iter(self._queues.items()))
            item = queue.popleft()
            if queue:
                self._queues.move_to_end(key)
            else:
                del self._queues[key]
            return item
        return None

    def _take_samples(self, limit: int) -> list[SampleJob]:
        """Up to `limit` queued sample jobs, one per session a pass, in round-robin order (the
        caller holds the lock). Each session's remaining items keep their order."""
        taken: list[SampleJob] = []
        progress = True
        while len(taken) < limit and progress:
            progress = False
            for key in list(self._queues):
                queue = self._queues[key]
                for index, item in enumerate(queue):
                    if isinstance(item, SampleJob):
                        del queue[index]
                        taken.append(item)
                        progress = True
                        break
                if not queue:
                    del self._queues[key]
                if len(taken) >= limit:
                    break
        return taken

    def _other_work_waiting(self) -> bool:
        return any(isinstance(item, _Call) for queue in self._queues.values() for item in queue)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queues and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                item = self._next()
                batch: list[SampleJob] = []
                if isinstance(item, SampleJob):
                    batch = [item] + self._take_samples(self.sample_batch_cap - 1)
                    self._gather(batch)
            if isinstance(item, _Call):
                self._run_call(item)
            elif batch:
                self._run_samples(batch)

    def _gather(self, batch: list[SampleJob]) -> None:
        """Wait (holding the condition's lock, released while waiting) for sample jobs that are
        arriving now, up to GATHER_SECONDS, stopping after a quiet GATHER_QUIET_SECONDS or as soon
        as other work waits."""
        deadline = time.monotonic() + GATHER_SECONDS
        while len(batch) < self.sample_batch_cap and not self._closed and not self._other_work_waiting():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._cond.wait(min(remaining, GATHER_QUIET_SECONDS))
            more = self._take_samples(self.sample_batch_cap - len(batch))
            if not more:
                return
            batch.extend(more)

    def _run_call(self, item: _Call) -> None:
        if item.is_cancelled():
            item.settle(error=SampleCancelled("the request was cancelled before it ran"))
            return
        try:
            result = item.fn()
        except BaseException as exc:  # every failure goes back to its caller
            item.settle(error=exc)
        else:
            item.settle(result)

    def _counted(self, job: SampleJob) -> SampleJob:
        """The job with an `on_done` that also counts it out of the batch."""
        done = job.on_done
        answered = threading.Event()

        def on_done(result: Any) -> None:
            if answered.is_set():
                return
            answered.set()
            with self._cond:
                self._samples_in_flight -= 1
            done(result)

        return dataclasses.replace(job, on_done=on_done)

    def _run_samples(self, batch: list[SampleJob]) -> None:
        live: list[SampleJob] = []
        for job in batch:
            if job.is_cancelled():
                _cancel(job, "the sample request was cancelled before it ran")
            else:
                live.append(job)
        if not live:
            return
        with self._cond:
            self._samples_in_flight += len(live)
        jobs = [self._counted(job) for job in live]
        handed = list(jobs)

        def take_more() -> list[SampleJob]:
            with self._cond:
                if self._closed or self._other_work_waiting():
                    return []
                room = self.sample_batch_cap - self._samples_in_flight
                more = self._take_samples(room) if room > 0 else []
                fresh = [job for job in more if not job.is_cancelled()]
                self._samples_in_flight += len(fresh)
            for job in more:
                if job.is_cancelled():
                    _cancel(job, "the sample request was cancelled before it ran")
            counted = [self._counted(job) for job in fresh]
            handed.extend(counted)
            return counted

        try:
            self.engine.sample_batch(jobs, take_more)
        except BaseException as exc:  # the engine failed as a whole: answer whoever is left
            logger.exception("sample batch failed")
            for job in handed:  # answered ones ignore a second answer
                job.on_done(exc)
        else:
            for job in handed:  # a job the engine never answered must not hang its client
                job.on_done(RuntimeError("the engine returned without answering this sample request"))


def _cancel(item: _Item, reason: str) -> None:
    error = SampleCancelled(reason)
    if isinstance(item, _Call):
        item.settle(error=error)
    else:
        try:
            item.on_done(error)
        except Exception:
            logger.exception("on_done of a cancelled sample job failed")
