"""P6: how well pipelining hides network latency. The same SFT loop (forward_backward +
optim_step per step, the next step submitted before the previous one is awaited, as
tinker-cookbook's loops do) runs against the local server through a proxy that delays every
request by 200 ms, and directly.

The latency bound is the best steps/s any server could give that client: the compute bound (the
direct run) or, if lower, what the client's request pattern allows. tinker 0.38's training client
sends its submissions one at a time (seen at the proxy: arrivals one latency apart, a
retrieve_future beside each), so a step's two submissions cost at least 2 x 200 ms. Goal: ratio
>= 0.9."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

from .common import Comparison, Result, offline_env

LATENCY_S = 0.2
SUBMITS_PER_STEP = 2  # forward_backward and optim_step, sent one after the other by the SDK
BATCH, SEQ_LEN, RANK = 8, 64, 16


class DelayProxy:
    """A loopback HTTP proxy that sleeps `delay` before forwarding each request upstream."""

    def __init__(self, upstream: str, delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        from aiohttp import ClientSession, ClientTimeout, web

        asyncio.set_event_loop(self._loop)
        session: ClientSession | None = None

        async def forward(request: web.Request) -> web.Response:
            await asyncio.sleep(self.delay)
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
            async with session.request(request.method, self.upstream + request.path_qs, data=body, headers=headers) as up:
                payload = await up.read()
                keep = {k: v for k, v in up.headers.items() if k.lower() in ("content-type",)}
                return web.Response(status=up.status, body=payload, headers=keep)

        async def start() -> web.AppRunner:
            nonlocal session
            session = ClientSession(timeout=ClientTimeout(total=600))
            app = web.Application(client_max_size=512 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", forward)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"
            return runner

        runner = self._loop.run_until_complete(start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        if session is not None:
            self._loop.run_until_complete(session.close())
        self._loop.close()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def steps_per_second(base_url: str, api_key: str, model: str, steps: int) -> float:
    import random

    import tinker
    from tinker import types

    rng = random.Random(0)
    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    client = service.create_lora_training_client(base_model=model, rank=RANK)
    data = [
        types.Datum(
            model_input=types.ModelInput.from_ints([rng.randrange(4, 512) for _ in range(SEQ_LEN)]),
            loss_fn_inputs={"target_tokens": [rng.randrange(4, 512) for _ in range(SEQ_LEN)], "weights": [1.0] * SEQ_LEN},
        )
        for _ in range(BATCH)
    ]
    adam = types.AdamParams(learning_rate=1e-4)

    def submit():
        return client.forward_backward(data, "cross_entropy"), client.optim_step(adam)

    for fut in submit():  # warm-up: model load, first compile of kernels
        fut.result(timeout=600)
    start = time.perf_counter()
    pending = submit()
    for _ in range(steps - 1):
        following = submit()
        for fut in pending:
            fut.result(timeout=600)
        pending = following
    for fut in pending:
        fut.result(timeout=600)
    return steps / (time.perf_counter() - start)


def run(quick: bool = False) -> Result:
    offline_env()
    from cookbook_tui.common.tiny_model import TINY_MODEL_NAME
    from cookbook_tui.engine import start_local_server

    steps = 8 if quick else 30
    work = Path(tempfile.mkdtemp(prefix="bench-p6-"))
    result = Result(
        benchmark="p6_latency",
        title=f"pipelined SFT steps/s with {int(LATENCY_S * 1000)} ms injected per request",
        ours_label="through delay proxy",
        reference_label="latency bound",
    )
    with start_local_server(data_dir=work / "data") as server:
        direct = steps_per_second(server.base_url, server.api_key, TINY_MODEL_NAME, steps)
        with DelayProxy(server.base_url, LATENCY_S) as proxy:
            delayed = steps_per_second(proxy.base_url, server.api_key, TINY_MODEL_NAME, steps)
    serial = 1 / (1 / direct + 4 * LATENCY_S)  # no pipelining: 2 submits + 2 result polls per step
    bound = min(direct, 1 / (SUBMITS_PER_STEP * LATENCY_S))
    result.rows.append(
        Comparison(
            case=f"tiny ~1M, batch {BATCH}x{SEQ_LEN}",
            unit="steps/s",
            ours=delayed,
            reference=bound,
            goal=">= 0.9",
            notes=f"{steps} steps; direct (no latency) {direct:.2f} steps/s; "
            f"a loop that hid nothing would get {serial:.2f} steps/s",
        )
    )
    result.details["analysis"] = (
        "The latency bound is min(direct steps/s, 1 / (2 x latency)): tinker 0.38's training "
        "client sends a model's submissions one at a time (arrivals one latency apart at the "
        "proxy), so no server can make a step faster than its two submissions' round trips. The "
        "server holds retrieve_future open until the result is ready, so result polls add no "
        "round trips beyond that."
    )
    return result
