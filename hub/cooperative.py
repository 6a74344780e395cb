"""Long stretches of work on the event loop give way every few milliseconds, so HTTP requests
(``/healthz`` among them) and Kafka heartbeats are served while a batch of hundreds of events is
judged, routed and written, or a CSV file of a million rows is imported."""

from __future__ import annotations

import asyncio
from time import perf_counter

SLICE_SECONDS = 0.002
_since = perf_counter()


async def share_the_loop() -> None:
    """Yield to the event loop if it has not had a turn for ``SLICE_SECONDS``.

    Time, not a count of steps, decides: a step may be a routing decision of microseconds or a
    store statement of milliseconds, and what the loop's other tasks need is a bound on the wait.
    The clock is shared by every caller, so a task resumed after another's yield gets a fresh slice."""
    global _since
    if perf_counter() - _since >= SLICE_SECONDS:
        await asyncio.sleep(0)
        _since = perf_counter()
