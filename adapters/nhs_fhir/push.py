"""Pushing health advice requests to NHS providers that have a FHIR endpoint: a message Bundle
POSTed to ``$process-message``, retried with backoff. The Bundle id is the same on every retry,
so a provider that received it already can recognise it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from adapters.advice_inbox import receipts
from adapters.common import EventPort
from adapters.nhs_fhir.codes import FHIR_JSON
from adapters.nhs_fhir.outbound import request_message
from adapters.webhooks import deliver_with_retries
from schemas.envelope import decode
from schemas.events import AdviceRequested


class FhirPushDispatcher:
    def __init__(
        self,
        endpoints: dict[str, str],
        port: EventPort,
        today: Callable[[], date],
        delays: Sequence[float],
        source_endpoint: str,
        timeout: float = 10.0,
    ) -> None:
        self.endpoints = endpoints
        self.port = port
        self.today = today
        self.delays = delays
        self.source_endpoint = source_endpoint
        self.timeout = timeout

    async def deliver(self, value: bytes | None) -> bool:
        envelope, event = decode(value)
        if not isinstance(event, AdviceRequested):
            return False
        base = self.endpoints.get(event.recipient.code)
        if base is None:
            return False  # the provider fetches its Tasks instead
        # The push is the provider's receipt (reg 8): its six weeks run from today, as the hub's clock
        # will have it once the receipt below is recorded, so the Task says that date, not the request's.
        received = self.today()
        due = received + (event.due_date - event.requested_date)
        bundle = request_message(
            event, envelope.id, self.source_endpoint, datetime.now(UTC).isoformat(timespec="seconds"), due=due
        )
        body = json.dumps(bundle).encode()
        headers = {"content-type": FHIR_JSON, "accept": FHIR_JSON, "idempotency-key": envelope.id}
        await deliver_with_retries(f"{base.rstrip('/')}/$process-message", body, headers, self.delays, self.timeout)
        row = {"request": event.model_dump(mode="json"), "received_date": None}
        await self.port.submit_many(receipts([row], received, "fhir-push"))
        return True
