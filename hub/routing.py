"""Routing: from one validated canonical event to the records the hub must publish.

Pure functions of the event, so the same input always yields the same records with the same
ids. That determinism is what makes redelivery harmless: a record published twice carries the
same event id, and every consumer dedupes on it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hub.policy import ALL, minimise, shares_for
from hub.store import CaseEffect, Delivery
from hub.topics import outbound_topic
from schemas.envelope import Envelope
from schemas.events import (
    AdviceSubmitted,
    AssessmentDecisionMade,
    AssessmentRequested,
    Event,
    PanelOutcomeRecorded,
    PlanRecorded,
    RecordDisclosed,
)

_NAMESPACE = uuid.UUID("5b0c3a52-4d0e-4f0a-9a57-2f3c8e1d9b11")

STAGE_RANK: dict[type[Event], int] = {
    AssessmentRequested: 1,
    AssessmentDecisionMade: 2,
    AdviceSubmitted: 3,
    PanelOutcomeRecorded: 4,
    PlanRecorded: 5,
}


def derived_id(source_event_id: str, purpose: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{source_event_id}:{purpose}"))


@dataclass(frozen=True)
class OutboundRecord:
    topic: str
    key: str
    envelope: Envelope
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class RoutingResult:
    records: list[OutboundRecord]
    effect: CaseEffect


def route(
    envelope: Envelope, event: Event, *, topic: str, hub_source: str, lineage: str | None = None
) -> RoutingResult:
    """Work out every record to publish for ``event`` and the effect it has on the store."""
    records: list[OutboundRecord] = []
    deliveries: list[Delivery] = []
    data = envelope.data
    case_id = getattr(event, "case_id", None)
    for share in shares_for(event.event_type):
        delivery_id = derived_id(envelope.id, share.recipient.value)
        minimised = minimise(data, share.fields)
        out_topic = outbound_topic(share.recipient)
        out = envelope.model_copy(
            update={
                "id": delivery_id,
                "source": hub_source,
                "causationid": envelope.id,
                "data": minimised,
            }
        )
        records.append(
            OutboundRecord(out_topic, event.key(), out, (("hub-recipient", share.recipient.value.encode()),))
        )
        fields = sorted(minimised) if share.fields != ALL else ["*"]
        deliveries.append(Delivery(delivery_id, share.recipient.value, out_topic, envelope.type, fields))
        audit = RecordDisclosed(
            audit_id=derived_id(envelope.id, f"audit:{share.recipient.value}"),
            case_id=str(case_id or event.key()),
            source_event_id=envelope.id,
            recipient=share.recipient.value,
            fields=fields,
            lawful_basis=share.lawful_basis,
        )
        records.append(
            OutboundRecord(
                RecordDisclosed.topic,
                audit.key(),
                Envelope(
                    id=audit.audit_id,
                    source=hub_source,
                    type=RecordDisclosed.cloudevent_type(),
                    subject=audit.key(),
                    time=envelope.time,
                    correlationid=envelope.correlationid,
                    causationid=envelope.id,
                    data=audit.model_dump(mode="json"),
                ),
            )
        )
    effect = CaseEffect(
        event_id=envelope.id,
        topic=topic,
        event_type=envelope.type,
        occurred_at=envelope.time,
        source=envelope.source,
        correlation_id=envelope.correlationid,
        causation_id=envelope.causationid,
        case_id=case_id,
        la_code=getattr(event, "la_code", None),
        received_date=event.received_date if isinstance(event, AssessmentRequested) else None,
        stage_rank=STAGE_RANK.get(type(event), 0),
        deliveries=deliveries,
        redrive_lineage=lineage,
    )
    return RoutingResult(records, effect)
