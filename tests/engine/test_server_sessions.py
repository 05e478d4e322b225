"""Sessions that expire, clients that hang up, and work shared fairly between sessions."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from server_helpers import SDK_TIMEOUT, TINY, one_datum, post_raw, wait_healthy

from cookbook_tui.engine.sample_jobs import SampleCancelled, SampleJob
from cookbook_tui.engine.scheduler import Scheduler

FLOOD_CLIENT = Path(__file__).with_name("sampling_flood_client.py")


class _RecordingEngine:
    """Stands in for the engine in the scheduler tests: records what ran, in order."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.more_offered: list[int] = []

    def sample_batch(self, jobs, take_more) -> None:
        pending = list(jobs)
        while pending:
            job = pending.pop(0)
            self.ran.append(job.sampler_id)
            job.on_done(SampleCancelled("done") if job.is_cancelled() else object())
            more = take_more()
            self.more_offered.append(len(more))
            pending.extend(more)


async def test_sessions_are_served_round_robin() -> None:
    engine = _RecordingEngine()
    scheduler = Scheduler(engine)
    gate = threading.Event()
    try:
        blocker = scheduler.call("x", gate.wait)  # holds the worker while the queues fill
        flood = [scheduler.call("a", lambda i=i: engine.ran.append(f"a{i}")) for i in range(5)]
        late = scheduler.call("b", lambda: engine.ran.append("b0"))
        gate.set()
        await asyncio.gather(blocker, *flood, late)
    finally:
        scheduler.close()
    # b queued its one call behind five of a's, and runs after one of them, not after all.
    assert engine.ran == ["a0", "b0", "a1", "a2", "a3", "a4"]


async def test_samples_are_batched_across_sessions_and_yield_to_training() -> None:
    engine = _RecordingEngine()
    scheduler = Scheduler(engine, sample_batch_cap=4)
    gate = threading.Event()
    answered: list[str] = []

    def job(name: str) -> SampleJob:
        return SampleJob(sampler_id=name, request=None, on_done=lambda r, n=name: answered.append(n))  # type: ignore[arg-type]

    try:
        blocker = scheduler.call("x", gate.wait)
        for name in ("a0", "a1", "a2", "b0", "c0"):
            scheduler.sample(name[0], job(name))
        step = scheduler.call("b", lambda: engine.ran.append("b-train"))
        gate.set()
        await asyncio.gather(blocker, step)
        while len(answered) < 5:
            await asyncio.sleep(0.01)
    finally:
        scheduler.close()
    # One batch of four (fair: one per session a pass); the training step waits one batch, and
    # take_more hands nothing over while it waits; the last sample comes after it.
    assert engine.ran[:4] == ["a0", "b0", "c0", "a1"]
    assert engine.ran[4:] == ["b-train", "a2"]
    assert engine.more_offered[:4] == [0, 0, 0, 0]


async def test_a_dropped_session_answers_its_queued_work_cancelled() -> None:
    engine = _RecordingEngine()
    scheduler = Scheduler(engine)
    gate = threading.Event()
    try:
        blocker = scheduler.call("x", gate.wait)
        doomed = scheduler.call("a", lambda: "ran")
        assert scheduler.drop("a", "session 'a' expired") == 1
        gate.set()
        await blocker
        with pytest.raises(SampleCancelled, match="expired"):
            await doomed
    finally:
        scheduler.close()


@pytest.fixture
def fast_expiry_server(tiny_model_path, tmp_path):
    from cookbook_tui.engine import start_local_server

    # A long hang-up grace: urllib closes its connection after each request, which would read as
    # a client that hung up; this test is about heartbeats.
    server = start_local_server(
        data_dir=tmp_path / "data", session_timeout_seconds=1.5, hangup_grace_seconds=60.0, hold_seconds=1.0
    )
    wait_healthy(server.base_url)
    yield server
    server.stop()


def test_a_session_without_heartbeats_expires_and_its_queued_samples_are_dropped(fast_expiry_server) -> None:
    url = fast_expiry_server.base_url
    _, body = post_raw(url, "create_session", {"tags": [], "user_metadata": None, "sdk_version": "0.38.0"})
    session = json.loads(body)["session_id"]
    _, body = post_raw(
        url,
        "create_sampling_session",
        {"session_id": session, "sampling_session_seq_id": 0, "base_model": TINY},
    )
    sampler = json.loads(body)["sampling_session_id"]
    sample = {
        "sampling_session_id": sampler,
        "seq_id": 0,
        "num_samples": 1,
        "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1, 2, 3]}]},
        "sampling_params": {"max_tokens": 800, "temperature": 1.0},
    }
    ids = [json.loads(post_raw(url, "asample", sample)[1])["request_id"] for _ in range(200)]
    time.sleep(3.0)  # no heartbeat: the session is gone after 1.5 s
    status, body = post_raw(url, "session_heartbeat", {"session_id": session})
    assert status == 410 and "expired" in json.loads(body)["error"]
    errors = []
    for rid in ids:
        _, raw = post_raw(url, "retrieve_future", {"request_id": rid})
        errors.append(None if raw[:1] != b"{" else json.loads(raw).get("error"))  # else a protobuf result
    # Not every one of 200 long samples ran in 1.5 s: the rest were dropped, saying why.
    assert sum(1 for e in errors if e and "expired" in e) > 100
    status, body = post_raw(url, "create_sampling_session", {"session_id": session, "sampling_session_seq_id": 1, "base_model": TINY})
    assert status == 400 and "expired" in json.loads(body)["error"]


def test_a_killed_clients_queued_samples_do_not_hold_up_the_next_client(tiny_model_path, tmp_path) -> None:
    """A client with 600 queued samples is SIGKILLed; a new client's first training step
    finishes within seconds (on the FIFO server it waited for every sample: 300 samples of 128
    tokens held it 22 s before batching, 38 s with batching under load)."""
    import tinker
    from tinker import types

    from cookbook_tui.engine import start_local_server

    server = start_local_server(data_dir=tmp_path / "data")
    try:
        wait_healthy(server.base_url)
        flood = subprocess.Popen(
            [sys.executable, str(FLOOD_CLIENT), server.base_url, server.api_key, "600", "400"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert flood.stdout is not None and flood.stdout.readline().strip() == "queued"
        finally:
            flood.send_signal(signal.SIGKILL)
            flood.wait()
        started = time.monotonic()
        client = tinker.ServiceClient(base_url=server.base_url, api_key=server.api_key)
        training = client.create_lora_training_client(base_model=TINY, rank=4).result(timeout=SDK_TIMEOUT)
        training.forward_backward([one_datum()], "cross_entropy").result(timeout=SDK_TIMEOUT)
        training.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=SDK_TIMEOUT)
        waited = time.monotonic() - started
        client.close("success").result(timeout=30)
        outcomes = [f.outcome for f in server.engine_server.futures._futures.values() if f.kind == "sample"]
    finally:
        server.stop()
    dropped = sum(1 for o in outcomes if o is not None and o.error and "hung up" in o.error)
    print(f"waited {waited:.1f} s; {dropped} of {len(outcomes)} samples dropped")
    # The flood's work was dropped, not run: the next client did not wait for 300 samples
    # (measured with 300 samples of 128 tokens: 2.3 s here against 38 s on the FIFO server).
    assert dropped >= 300, f"only {dropped} of the killed client's {len(outcomes)} samples were dropped"
    assert waited < 30.0, f"the next client waited {waited:.1f} s"
