"""What an outbound channel is to the hub's dispatcher: a mapping from one record meant for one
organisation to the HTTP request that organisation's system takes.

A channel says nothing of retries, order, leases or bookkeeping; those belong to the one delivery
engine (``hub.dispatch``), so that every channel fails, waits and recovers in the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Protocol

from adapters.advice_inbox import receipts
from adapters.common import Submission
from schemas.common import Agency

ADVICE_REQUESTED = "uk.ehc-hub.advice-requested."
INBOX, FHIR_INBOX = "inbox", "fhir-inbox"
"""The two ways an organisation without an endpoint pulls its records: the general inbox, and FHIR
search for NHS organisations."""


def recipient_of(agency: Agency, code: str) -> str:
    """How the dispatcher names one organisation's system: ``<agency>:<code>``."""
    return f"{agency.value}:{code}"


@dataclass(frozen=True)
class Parcel:
    """One outbound record as published on ``out.<agency>.v1``, for the one organisation it names."""

    agency: Agency
    org_code: str
    body: bytes  # the CloudEvent, byte for byte as the hub published it

    @cached_property
    def envelope(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.body)
        return doc

    @property
    def dispatch_id(self) -> str:
        """The record's own event id: what identifies its delivery to the recipient, on every retry."""
        return str(self.envelope["id"])

    @property
    def event_type(self) -> str:
        """The canonical event type (``panel-outcome-recorded``), from the CloudEvents type."""
        return str(self.envelope.get("type", "")).split(".")[2]

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.envelope.get("data") or {}
        return data


@dataclass(frozen=True)
class HttpDelivery:
    url: str
    body: bytes
    headers: dict[str, str]


class Channel(Protocol):
    """One way of reaching organisations' systems (a webhook, a FHIR endpoint, the adult system)."""

    name: str

    def serves(self, agency: Agency, org_code: str, event_type: str) -> bool:
        """Whether this organisation is registered with this channel for records of this type."""
        ...

    def request(self, parcel: Parcel, today: date) -> HttpDelivery:
        """The request that hands the parcel over; the same parcel gives the same idempotency key."""
        ...

    def delivered(self, parcel: Parcel, today: date) -> list[Submission]:
        """Events the hub records once the recipient has taken the parcel (an adviser's receipt)."""
        ...


def advice_receipts(parcel: Parcel, today: date, channel: str) -> list[Submission]:
    """An advice request taken by the adviser's system is received by the adviser that day (reg 8)."""
    if not str(parcel.envelope.get("type", "")).startswith(ADVICE_REQUESTED):
        return []
    return receipts([{"request": parcel.data, "received_date": None}], today, channel)
