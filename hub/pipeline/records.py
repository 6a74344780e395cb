"""Kafka record headers the hub writes, and the plain record type the delivery core works on.

Dead-letter headers follow Kafka Connect's names (``__connect.errors.*``) so tools that already
understand Connect's dead-letter queues read ours; what Connect has no name for is under
``hub.errors.*``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schemas.envelope import Envelope
from schemas.events import Event

if TYPE_CHECKING:
    from hub.pipeline.routing import RoutingResult

ERR = "__connect.errors."
H_TOPIC = ERR + "topic"
H_PARTITION = ERR + "partition"
H_OFFSET = ERR + "offset"
H_CONNECTOR = ERR + "connector.name"
H_STAGE = ERR + "stage"
H_CLASS = ERR + "class.name"
H_EXC_CLASS = ERR + "exception.class.name"
H_EXC_MESSAGE = ERR + "exception.message"
H_EXC_STACK = ERR + "exception.stacktrace"
H_ATTEMPTS = "hub.errors.attempts"
H_FIRST_FAILURE = "hub.errors.first.failure.time"
H_RULE = "hub.errors.rule"
H_FIELD = "hub.errors.field"
H_EVENT_ID = "hub.errors.event.id"
H_CASE_ID = "hub.errors.case.id"
H_EVENT_TYPE = "hub.errors.event.type"
H_NOT_BEFORE = "hub.retry.not.before"
H_LINEAGE = "hub.redrive.lineage"
H_RECIPIENT, H_RECIPIENT_ORG = "hub-recipient", "hub-recipient-org"  # whom an outbound record is for
CONTROL_PREFIXES = (ERR, "hub.errors.", "hub.retry.")


def addressed_to(agency: str, org_code: str | None) -> tuple[tuple[str, bytes], ...]:
    """The headers naming an outbound record's recipient: what the dispatcher delivers by."""
    if org_code is None:
        return ((H_RECIPIENT, agency.encode()),)
    return (H_RECIPIENT, agency.encode()), (H_RECIPIENT_ORG, org_code.encode())


@dataclass(frozen=True)
class Record:
    """One Kafka record as the delivery core sees it, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        for k, v in reversed(self.headers):
            if k == name:
                return v.decode("utf-8", errors="replace")
        return None

    def business_headers(self) -> tuple[tuple[str, bytes], ...]:
        """The headers the producer wrote, without the hub's own error and retry context."""
        return tuple((k, v) for k, v in self.headers if not k.startswith(CONTROL_PREFIXES))

    @classmethod
    def from_consumer_record(cls, r: Any) -> Record:
        return cls(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()), r.timestamp)


@dataclass(frozen=True)
class Origin:
    """Where a record first entered the hub, carried through retries into the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    attempts: int
    first_failure: datetime | None

    @classmethod
    def of(cls, record: Record) -> Origin:
        if record.header(H_TOPIC) is None:
            return cls(record.topic, record.partition, record.offset, 0, None)
        first = record.header(H_FIRST_FAILURE)
        return cls(
            record.header(H_TOPIC) or record.topic,
            int(record.header(H_PARTITION) or record.partition),
            int(record.header(H_OFFSET) or record.offset),
            int(record.header(H_ATTEMPTS) or 0),
            datetime.fromisoformat(first) if first else None,
        )


def now_utc() -> datetime:
    return datetime.now(UTC)


def lineage_header(**fields: Any) -> tuple[str, bytes]:
    return H_LINEAGE, json.dumps(fields, sort_keys=True, default=str).encode()


@dataclass
class Accepted:
    """A record the hub could decode, with where it came from and, once routed, what it gives."""

    record: Record
    origin: Origin
    envelope: Envelope
    event: Event
    routing: RoutingResult | None = None
