"""Dead-letter operations: list, show and redrive, each redrive audited and traceable.

A redriven record goes back to its original topic with its value and the producer's headers
unchanged, plus a lineage header naming the dead letter it came from. The hub then processes it
like any other record; if its event was applied meanwhile, the event-id check makes it a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.domain.ids import derived_id
from hub.ops.audit import record_operator_action
from hub.ops.kafka_io import read_topic
from hub.pipeline.failures import dead_letter_row
from hub.pipeline.publisher import EventPublisher, Producer, TopicNames
from hub.pipeline.records import Record, lineage_header
from hub.store import Store
from hub.topics import DLQ_TOPIC


@dataclass(frozen=True)
class Selection:
    """Which dead letters to act on. Empty means every one not yet redriven."""

    ids: tuple[str, ...] = ()
    case_id: str | None = None
    event_type: str | None = None
    stage: str | None = None
    include_redriven: bool = False

    def matches(self, row: dict[str, Any]) -> bool:
        if self.ids and row["dlq_id"] not in self.ids:
            return False
        if self.case_id and row.get("case_id") != self.case_id:
            return False
        if self.event_type and row.get("event_type") != self.event_type:
            return False
        if self.stage and row.get("stage") != self.stage:
            return False
        return self.include_redriven or bool(self.ids) or row.get("redrive_count", 0) == 0


async def dead_letter_records(bootstrap_servers: str, names: TopicNames, **cfg: Any) -> list[Record]:
    return [r async for r in read_topic(bootstrap_servers, names.physical(DLQ_TOPIC), client_config=cfg)]


def describe(record: Record, redrive_count: int = 0) -> dict[str, Any]:
    """A dead letter for people: its index row, headers and value (shown as text where it is text)."""
    row = dead_letter_row(record)
    row["redrive_count"] = redrive_count
    row["headers"] = {k: v.decode("utf-8", errors="replace") for k, v in record.headers}
    try:
        row["value"] = (record.value or b"").decode("utf-8")
    except UnicodeDecodeError:
        row["value_hex"] = (record.value or b"").hex()
    return row


async def redrive(
    *,
    bootstrap_servers: str,
    names: TopicNames,
    store: Store,
    producer: Producer,
    selection: Selection,
    actor: str,
    reason: str = "",
    client_config: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Send the selected dead letters back to their original topics; returns one audit row each."""
    publisher = EventPublisher(producer, names)
    counts = {row["dlq_id"]: row["redrive_count"] for row in await store.dead_letters()}
    done: list[dict[str, Any]] = []
    for record in await dead_letter_records(bootstrap_servers, names, **(client_config or {})):
        row = dead_letter_row(record)
        row["redrive_count"] = counts.get(row["dlq_id"], 0)
        if not selection.matches(row):
            continue
        at = datetime.now(UTC)
        redrive_id = derived_id(f"{row['dlq_id']}:{row['redrive_count']}", "redrive")
        lineage = lineage_header(
            redrive_id=redrive_id,
            dlq_topic=record.topic,
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            original_topic=row["original_topic"],
            original_partition=row["original_partition"],
            original_offset=row["original_offset"],
            redrive_number=row["redrive_count"] + 1,
            actor=actor,
            at=at.isoformat(),
        )
        headers = [*record.business_headers(), lineage]
        await (await publisher.copy(names.logical(row["original_topic"]), record.value, record.key, headers))
        audit = {
            "audit_id": redrive_id,
            "action": "redrive",
            "actor": actor,
            "at": at,
            "detail": {
                "dlq_id": row["dlq_id"],
                "original_topic": row["original_topic"],
                "original_partition": row["original_partition"],
                "original_offset": row["original_offset"],
                "event_id": row["event_id"],
                "case_id": row["case_id"],
                "reason": reason,
            },
        }
        await record_operator_action(publisher, store, audit)
        done.append(audit)
    return done


def audit_row_from_record(record: Record) -> dict[str, Any]:
    doc = json.loads(record.value or b"{}")
    doc["at"] = datetime.fromisoformat(doc["at"])
    return doc
