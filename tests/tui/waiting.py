"""Waiting in pilot tests for something the app does in the background (a worker, a run)."""

from __future__ import annotations

from collections.abc import Callable


async def wait_until(pilot, condition: Callable[[], bool], what: str, polls: int = 600, every: float = 0.1) -> None:
    """Let the app run until `condition()` holds; the limit is generous, it only stops a hang."""
    for _ in range(polls):
        if condition():
            return
        await pilot.pause(every)
    raise AssertionError(f"gave up waiting for {what}")

