"""Outbound delivery of advice requests to recipients' webhooks (schools, settings, educational
psychologists, social care), with retries and backoff, and receipt recorded on success.

Each request is POSTed as a CloudEvent with an ``Idempotency-Key`` equal to its event id, so a
retry after a lost response is recognised by the recipient. A recipient without a configured
endpoint fetches its work from ``GET /api/v1/advice-requests`` instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import httpx

from adapters.advice_inbox import receipts
from adapters.common import EventPort

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class PermanentDeliveryError(Exception):
    """The recipient refused the request in a way a retry cannot fix (a 4xx other than 408/425/429)."""


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    delays: Sequence[float],
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> httpx.Response:
    """POST until a 2xx; wait ``delays[i]`` before retry i+1, repeating the last delay forever."""
    attempt = 0
    while True:
        try:
            response = await client.post(url, content=body, headers=headers)
            if response.is_success:
                return response
            if response.status_code not in RETRYABLE_STATUS:
                raise PermanentDeliveryError(f"{url} answered {response.status_code}")
        except httpx.TransportError:
            pass
        await sleep(delays[min(attempt, len(delays) - 1)])
        attempt += 1


async def deliver_with_retries(
    url: str, body: bytes, headers: dict[str, str], delays: Sequence[float], timeout: float
) -> httpx.Response:
    """One delivery over its own client, retried until the recipient takes it (or refuses for good)."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await post_with_retries(client, url, body, headers, delays)


class WebhookDispatcher:
    def __init__(
        self,
        endpoints: dict[str, str],
        port: EventPort,
        today: Callable[[], date],
        delays: Sequence[float] = (1, 2, 5, 10, 30, 60),
        timeout: float = 10.0,
    ) -> None:
        self.endpoints = endpoints
        self.port = port
        self.today = today
        self.delays = delays
        self.timeout = timeout

    async def deliver(self, value: bytes | None) -> bool:
        """Deliver one outbound record if it is an advice request for a recipient with a webhook."""
        doc = json.loads(value or b"{}")
        if not str(doc.get("type", "")).startswith("uk.ehc-hub.advice-requested."):
            return False
        data = doc.get("data", {})
        url = self.endpoints.get(data.get("recipient", {}).get("code", ""))
        if url is None:
            return False
        headers = {"content-type": "application/cloudevents+json", "idempotency-key": doc["id"]}
        await deliver_with_retries(url, value or b"", headers, self.delays, self.timeout)
        row = {"request": data, "received_date": None}
        await self.port.submit_many(receipts([row], self.today(), "webhook"))
        return True
