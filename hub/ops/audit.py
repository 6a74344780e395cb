"""The operator audit: what people and systems did through the ops API and the CLI (redrives,
reads of personal data, subject access exports)."""

from __future__ import annotations

from typing import Any, Protocol

from hub.pipeline.publisher import EventPublisher
from hub.topics import OPS_AUDIT_TOPIC


class AuditIndex(Protocol):
    async def record_ops_audit(self, row: dict[str, Any]) -> bool: ...


async def record_operator_action(publisher: EventPublisher, index: AuditIndex, record: dict[str, Any]) -> None:
    """On the operator audit topic first, the record a rebuild restores the index from, then in the
    store's index; an action whose audit cannot be written fails with it."""
    await (await publisher.document(OPS_AUDIT_TOPIC, record["audit_id"], record))
    await index.record_ops_audit(record)
