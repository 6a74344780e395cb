"""The failure path, apart from the delivery core: a record that cannot be processed now goes to
the next retry tier, and one that never can, or has used every tier, to the dead-letter topic.

Nothing here blocks a partition: the record is copied, unchanged, with Kafka Connect's error
headers (where it came from, at which stage, which exception, how many attempts since when) and
the hub's own (the rule and field that failed, the event's id, type and case), so that the
dead-letter index can be rebuilt from the topic alone and any record can be redriven.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from hub.logging import get_logger
from hub.pipeline import records as h
from hub.pipeline.publisher import EventPublisher
from hub.pipeline.records import Accepted, Origin, Record, now_utc
from hub.topics import DLQ_TOPIC, retry_topic
from schemas.envelope import EventRejected

log = get_logger("hub.pipeline.failures")


class DeadLetterStore(Protocol):
    """Where dead letters are indexed for redrive (``hub.store.DeadLetterIndex`` is one)."""

    async def record_dead_letter(self, row: dict[str, Any]) -> None: ...


class FailurePath:
    def __init__(self, store: DeadLetterStore, publisher: EventPublisher, retry_delays: Sequence[float]):
        self.store = store
        self.publisher = publisher
        self.retry_delays = list(retry_delays)
        self.dead_lettered = 0

    async def retry_or_dead_letter(self, a: Accepted, stage: str, exc: Exception) -> None:
        attempts = a.origin.attempts + 1
        first = a.origin.first_failure or now_utc()
        if attempts > len(self.retry_delays):
            await self.dead_letter(a.record, a.origin, stage, exc, event=a)
            return
        delay = self.retry_delays[attempts - 1]
        headers = [
            *a.record.business_headers(),
            *_context_headers(a.origin, stage, exc, attempts, first),
            (h.H_NOT_BEFORE, str(int((time.time() + delay) * 1000)).encode()),
        ]
        await (await self.publisher.copy(retry_topic(attempts), a.record.value, a.record.key, headers))
        log.warning("event scheduled for retry", stage=stage, attempt=attempts, delay_s=delay, error=type(exc).__name__)

    async def dead_letter(
        self,
        record: Record,
        origin: Origin,
        stage: str,
        exc: Exception,
        *,
        rule: str | None = None,
        field: str | None = None,
        event: Accepted | None = None,
    ) -> None:
        attempts = origin.attempts + 1
        rule = rule or getattr(exc, "rule", None)
        field = field or getattr(exc, "field", None)
        headers = [
            *record.business_headers(),
            *_context_headers(origin, stage, exc, attempts, origin.first_failure or now_utc()),
        ]
        if rule:
            headers.append((h.H_RULE, rule.encode()))
        if field:
            headers.append((h.H_FIELD, field.encode()))
        ids = _identify(record, event)
        headers.extend((name, value.encode()) for name, value in ids.items() if value)
        meta = await (await self.publisher.copy(DLQ_TOPIC, record.value, record.key, headers))
        stored = Record(
            self.publisher.names.physical(DLQ_TOPIC),
            meta.partition,
            meta.offset,
            record.key,
            record.value,
            tuple(headers),
        )
        await self.store.record_dead_letter(dead_letter_row(stored))
        self.dead_lettered += 1
        log.error(
            "record dead-lettered",
            stage=stage,
            error=type(exc).__name__,
            rule=rule,
            field=field,
            original_topic=origin.topic,
            original_partition=origin.partition,
            original_offset=origin.offset,
        )

    @staticmethod
    def due_time(record: Record) -> float:
        """When a retried record may be processed again (its tier's delay after it failed)."""
        not_before = record.header(h.H_NOT_BEFORE)
        return int(not_before) / 1000 if not_before else 0.0


def _context_headers(
    origin: Origin, stage: str, exc: Exception, attempts: int, first: datetime
) -> list[tuple[str, bytes]]:
    message = exc.reason if isinstance(exc, EventRejected) else str(exc)
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
    return [
        (h.H_TOPIC, origin.topic.encode()),
        (h.H_PARTITION, str(origin.partition).encode()),
        (h.H_OFFSET, str(origin.offset).encode()),
        (h.H_CONNECTOR, b"ehc-hub"),
        (h.H_STAGE, stage.encode()),
        (h.H_CLASS, b"hub.pipeline.delivery.DeliveryCore"),
        (h.H_EXC_CLASS, f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
        (h.H_EXC_MESSAGE, message.encode()[:4000]),
        (h.H_EXC_STACK, stack.encode()[:8000]),
        (h.H_ATTEMPTS, str(attempts).encode()),
        (h.H_FIRST_FAILURE, first.isoformat().encode()),
    ]


def _identify(record: Record, event: Accepted | None) -> dict[str, str | None]:
    """Event id, type and case of a failed record, as far as they can be read, for the dead-letter index."""
    if event is not None:
        return {
            h.H_EVENT_ID: event.envelope.id,
            h.H_EVENT_TYPE: event.envelope.type,
            h.H_CASE_ID: str(getattr(event.event, "case_id", None) or event.envelope.subject or "") or None,
        }
    try:
        doc = json.loads(record.value or b"")
    except ValueError:
        return {}
    if not isinstance(doc, dict):
        return {}
    data = doc.get("data")
    case_id = (data.get("case_id") if isinstance(data, dict) else None) or doc.get("subject")
    return {
        h.H_EVENT_ID: _short_str(doc.get("id")),
        h.H_EVENT_TYPE: _short_str(doc.get("type")),
        h.H_CASE_ID: _short_str(case_id),
    }


def _short_str(value: object) -> str | None:
    return value[:128] if isinstance(value, str) and value else None


def dead_letter_row(record: Record) -> dict[str, Any]:
    """The store's index row for one dead-letter record, read from its headers alone (so it rebuilds)."""
    first = record.header(h.H_FIRST_FAILURE)
    return {
        "dlq_id": f"{record.partition}-{record.offset}",
        "dlq_partition": record.partition,
        "dlq_offset": record.offset,
        "original_topic": record.header(h.H_TOPIC) or "",
        "original_partition": int(record.header(h.H_PARTITION) or -1),
        "original_offset": int(record.header(h.H_OFFSET) or -1),
        "stage": record.header(h.H_STAGE) or "",
        "exception_class": record.header(h.H_EXC_CLASS) or "",
        "exception_message": record.header(h.H_EXC_MESSAGE) or "",
        "attempts": int(record.header(h.H_ATTEMPTS) or 1),
        "first_failure": datetime.fromisoformat(first) if first else now_utc(),
        "event_id": record.header(h.H_EVENT_ID),
        "event_type": record.header(h.H_EVENT_TYPE),
        "case_id": record.header(h.H_CASE_ID),
        "redrive_count": 0,
    }
