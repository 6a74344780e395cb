"""Long loops on the event loop give way now and then, so HTTP requests and Kafka heartbeats are
served while a batch of hundreds of events is judged and routed."""

from __future__ import annotations

import asyncio

SHARE_EVERY = 32


async def share_the_loop(n: int) -> None:
    """Yield to the event loop on every ``SHARE_EVERY``-th step of a loop: a batch of 500 events is
    otherwise a third of a second in which nothing else is answered."""
    if n % SHARE_EVERY == SHARE_EVERY - 1:
        await asyncio.sleep(0)
