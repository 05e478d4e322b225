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



async def runs_read(pilot) -> None:
    """Let the Runs screen's file workers (reading the runs, deleting one) finish and their results
    reach the table: the screen reads and deletes off the event loop."""
    screen = pilot.app.screen
    for _ in range(100):
        busy = [w for w in pilot.app.workers if w.node is screen and not w.is_finished]
        if busy:
            await pilot.app.workers.wait_for_complete(busy)
        await pilot.pause()
        if screen.loaded and not any(w.node is screen and not w.is_finished for w in pilot.app.workers):
            return
    raise AssertionError("gave up waiting for the Runs screen's workers")
