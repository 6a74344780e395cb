"""Webhooks: every record meant for an organisation with a registered endpoint is POSTed to it as a
CloudEvent (structured JSON), signed per Standard Webhooks, so that the receiver can check that
the hub sent it, unchanged, recently: ``webhook-id`` (also the ``Idempotency-Key``: the same on
every retry), ``webhook-timestamp`` and ``webhook-signature`` (HMAC-SHA256 under the recipient's
own secret). The reference library signs, so any receiver's library verifies alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from adapters.channels import HttpDelivery, Parcel, advice_receipts
from adapters.common import Submission
from schemas.common import Agency


class WebhookChannel:
    name = "webhook"

    def __init__(self, endpoints: dict[str, str], secrets: dict[str, SecretStr]) -> None:
        self.endpoints = endpoints
        self.signers = {code: Webhook(secrets[code].get_secret_value()) for code in endpoints}

    def serves(self, agency: Agency, org_code: str, event_type: str) -> bool:
        return org_code in self.endpoints

    def request(self, parcel: Parcel, today: date) -> HttpDelivery:
        now = datetime.now(UTC)
        signature = self.signers[parcel.org_code].sign(parcel.dispatch_id, now, parcel.body.decode())
        headers = {
            "content-type": "application/cloudevents+json",
            "idempotency-key": parcel.dispatch_id,
            "webhook-id": parcel.dispatch_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        return HttpDelivery(self.endpoints[parcel.org_code], parcel.body, headers)

    def delivered(self, parcel: Parcel, today: date) -> list[Submission]:
        return advice_receipts(parcel, today, "webhook")
