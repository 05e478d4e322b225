"""Futures are held open until ready (no polling) and one model's requests run in seq_id order."""

from __future__ import annotations

import asyncio

from tinker import types

from cookbook_tui.engine.futures import FutureOutcome, FutureStore, OrderedQueue


async def test_a_held_wait_returns_as_soon_as_the_result_is_ready() -> None:
    store = FutureStore()
    future = store.create("optim_step")
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, store.finish, future, FutureOutcome(result=types.OptimStepResponse(metrics={})))
    # The hold is far longer than the work: the waiter wakes on the event, not on a timer.
    outcome = await asyncio.wait_for(store.wait(future, hold_seconds=30), timeout=5)
    assert outcome == FutureOutcome(result=types.OptimStepResponse(metrics={}))
    assert store.get(future.request_id) is future


async def test_a_wait_past_the_hold_time_answers_not_ready() -> None:
    store = FutureStore()
    future = store.create("forward_backward")
    assert await store.wait(future, hold_seconds=0.01) is None
    store.finish(future, FutureOutcome(error="boom", category="user"))
    assert (await store.wait(future, hold_seconds=0.01)).error == "boom"


async def test_delivered_results_are_forgotten_after_their_keep_time() -> None:
    store = FutureStore(keep_seconds=60, keep_delivered_seconds=0.0)
    delivered, waiting = store.create("optim_step"), store.create("optim_step")
    for future in (delivered, waiting):
        store.finish(future, FutureOutcome(result=types.OptimStepResponse()))
    await store.wait(delivered, hold_seconds=1)
    store.create("sample")  # creating a future sweeps old ones
    assert store.get(delivered.request_id) is None
    assert store.get(waiting.request_id) is waiting


async def test_request_ids_are_unique_and_unknown_ids_are_none() -> None:
    store = FutureStore()
    ids = {store.create("sample").request_id for _ in range(100)}
    assert len(ids) == 100
    assert store.get("not-an-id") is None


async def test_jobs_run_in_seq_id_order_whatever_order_they_arrive_in() -> None:
    ran: list[int] = []
    done = asyncio.Event()
    queue = OrderedQueue("m", next_seq=1)

    def job(seq: int):
        async def run() -> None:
            await asyncio.sleep(0)
            ran.append(seq)
            if len(ran) == 4:
                done.set()

        return run

    for seq in (3, 4, 1, 2):
        queue.submit(seq, job(seq))
    await asyncio.wait_for(done.wait(), timeout=5)
    queue.close()
    assert ran == [1, 2, 3, 4]


async def test_a_missing_seq_id_is_skipped_after_the_gap_time() -> None:
    ran: list[int] = []
    done = asyncio.Event()
    queue = OrderedQueue("m", next_seq=1, gap_seconds=0.05)

    async def run() -> None:
        ran.append(2)
        done.set()

    queue.submit(2, run)  # seq 1 never arrives
    await asyncio.wait_for(done.wait(), timeout=5)
    queue.close()
    assert ran == [2]
