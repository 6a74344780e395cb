"""Per-caller rate limits, answered with 429 and Retry-After."""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from fastapi import HTTPException


class RateLimiter:
    """A token bucket per caller: ``burst`` requests at once, refilled at ``per_minute``.

    Buckets are kept for at most ``max_callers`` callers, the least recently seen dropped first,
    so a flood of distinct identities cannot grow memory without bound."""

    def __init__(self, per_minute: float, burst: int, max_callers: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request for ``key``; 0 if allowed, otherwise the seconds until one is."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate if self.rate > 0 else 60.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait > 0:
            raise HTTPException(
                429, f"too many requests from {key}; retry later", headers={"Retry-After": str(math.ceil(wait))}
            )
