"""A tinker client that queues many sample requests and then waits to be killed.

`python sampling_flood_client.py BASE_URL API_KEY COUNT MAX_TOKENS`: prints `queued` 3 s after
sending them (as a killed client would have), then sleeps; the kill tests
SIGKILL it there, leaving its work queued on the server.
"""

from __future__ import annotations

import sys
import time

import tinker
from tinker import types

TINY = "cookbook-tui/tiny-chat"


def main() -> None:
    base_url, api_key, count, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    service = tinker.ServiceClient(base_url=base_url, api_key=api_key)
    sampler = service.create_sampling_client(base_model=TINY)
    prompt = types.ModelInput.from_ints([1, 2, 3, 4])
    params = types.SamplingParams(max_tokens=max_tokens, temperature=1.0)
    futures = [sampler.sample(prompt, num_samples=1, sampling_params=params) for _ in range(count)]
    # The SDK sends them concurrently from its own thread: give it time to reach the server.
    time.sleep(3.0)
    assert not all(f.done() for f in futures), "the server answered every sample already"
    print("queued", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    main()
