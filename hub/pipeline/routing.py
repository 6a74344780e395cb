"""Routing: from one validated canonical event to the records the hub must publish.

Pure functions of the event and its case as the store knows it, so the same input always
yields the same records with the same ids. That determinism is what makes redelivery harmless:
a record published twice carries the same event id, and every consumer dedupes on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from hub.domain.addressing import Directory, addressee, also_to, withheld
from hub.domain.corrections import RECTIFICATION, notices
from hub.domain.facts import CaseEffect, Delivery, PersonLink, RaisedAlert
from hub.domain.identity import IdentityContext, link, persons_in
from hub.domain.ids import derived_id
from hub.domain.policy import ALL, PUBLIC_TASK_HEALTH, PUBLIC_TASK_STATUTORY, minimise, shares_for
from hub.domain.state import Context, PersonRecord
from hub.domain.workflow import evaluate
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import H_LINEAGE, Accepted, addressed_to
from hub.settings import StatutoryRules
from hub.topics import outbound_topic
from schemas.common import Agency, OrganisationRef
from schemas.envelope import SCHEMA_BASE, Envelope
from schemas.events import (
    AdviceRequested,
    AdviceSubmitted,
    AlertRaised,
    AssessmentDecisionMade,
    AssessmentRequested,
    CareAssessmentRequested,
    Event,
    PanelOutcomeRecorded,
    PersonDetailsCorrected,
    PlanRecorded,
    RecordDisclosed,
    RecordDisclosedV2,
)

STAGE_RANK: dict[type[Event], int] = {
    AssessmentRequested: 1,
    AssessmentDecisionMade: 2,
    AdviceSubmitted: 3,
    PanelOutcomeRecorded: 4,
    PlanRecorded: 5,
}


@dataclass(frozen=True)
class OutboundRecord:
    """One record to publish. The CloudEvent is kept as the JSON document it will be written as:
    building a pydantic model per copy cost more than the rest of routing, and every part of it
    comes from an envelope and events already validated. The contract tests pin that the bytes are
    those the envelope model would write."""

    topic: str
    key: str
    document: dict[str, Any]
    headers: tuple[tuple[str, bytes], ...] = ()

    def value(self) -> bytes:
        return orjson.dumps(self.document)

    @cached_property
    def envelope(self) -> Envelope:
        """The document read back as an envelope, for code off the hot path and for tests."""
        return Envelope.model_validate(self.document)


@dataclass(frozen=True)
class RoutingResult:
    records: list[OutboundRecord]
    effect: CaseEffect


@dataclass(frozen=True)
class Router:
    """The routing rules bound once to what stays the same from event to event: the hub's own
    source, the statutory rules and the topic names. Live processing and a rebuild route alike."""

    hub_source: str
    rules: StatutoryRules
    names: TopicNames
    directory: Directory = field(default_factory=Directory)
    audit_v1: bool = False

    def route(
        self,
        accepted: Accepted,
        context: Context | None,
        identity: IdentityContext | None,
        *,
        with_records: bool = True,
    ) -> RoutingResult:
        return route(
            accepted.envelope,
            accepted.event,
            topic=self.names.logical(accepted.origin.topic),
            hub_source=self.hub_source,
            lineage=accepted.record.header(H_LINEAGE),
            context=context,
            rules=self.rules,
            identity=identity,
            with_records=with_records,
            directory=self.directory,
            audit_v1=self.audit_v1,
        )


def route(
    envelope: Envelope,
    event: Event,
    *,
    topic: str,
    hub_source: str,
    lineage: str | None = None,
    context: Context | None = None,
    rules: StatutoryRules | None = None,
    identity: IdentityContext | None = None,
    with_records: bool = True,
    directory: Directory | None = None,
    audit_v1: bool = False,
) -> RoutingResult:
    """Work out every record to publish for ``event`` and the effect it has on the store.

    A rebuild needs only the effect (the records were published when the event was first routed),
    so ``with_records=False`` leaves out building the minimised copies and disclosure audits.
    ``audit_v1`` also writes version 1 of the audit, a record per recipient.

    Raises RuleViolation when the event contradicts its case (or its case is not known yet).
    """
    links, person_keys, identity_alerts = _link_people(event, identity or ({}, {}), envelope.id)
    outcome = evaluate(event, context, rules or StatutoryRules(), event_id=envelope.id, person_keys=person_keys)
    outcome.emitted.extend(identity_alerts)
    case_id = getattr(event, "case_id", None)
    builder = _Builder(envelope, hub_source, str(case_id or event.key()), with_records, audit_v1)
    day = envelope.time.date()
    for share in shares_for(event.event_type):
        if withheld(share.recipient, context):  # an objection or restriction recorded for this case
            continue
        org = addressee(share.recipient, event, context, directory or Directory(), day)
        if org is None:  # withheld: a disclosure goes to a named organisation or not at all
            outcome.emitted.append(_unaddressed(envelope.id, event, share.recipient))
            continue
        builder.deliver(None, event.key(), share.recipient, org, share.fields, share.lawful_basis)
        for other in also_to(share.recipient, event, context, day):
            if other != org:
                builder.deliver(None, event.key(), share.recipient, other, share.fields, share.lawful_basis, True)
    if isinstance(event, PersonDetailsCorrected) and isinstance(context, PersonRecord):
        for notice in notices(event, context.disclosed):  # Art. 19: whoever was sent a wrong value
            fields = ("correction_id", "la_code", "corrected_date", *notice.fields)
            builder.deliver(None, event.key(), Agency(notice.agency), notice.organisation, fields, RECTIFICATION, True)
    alerts: list[RaisedAlert] = []
    for emitted in outcome.emitted:
        child = builder.child(emitted)
        if with_records:
            builder.records.append(OutboundRecord(emitted.topic, emitted.key(), child))
        if isinstance(emitted, AdviceRequested):
            builder.deliver(
                child, emitted.key(), emitted.recipient.agency, emitted.recipient.code, ALL, lawful_basis_for(emitted)
            )
        elif isinstance(emitted, CareAssessmentRequested):
            builder.deliver(child, emitted.key(), Agency.ADULT_SOCIAL_CARE, emitted.la_code, ALL, PUBLIC_TASK_STATUTORY)
        elif isinstance(emitted, AlertRaised):
            alerts.append(RaisedAlert(emitted, envelope.time.date()))
            builder.tell(child, emitted)
    builder.audit()
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
        deliveries=builder.deliveries,
        redrive_lineage=lineage,
        outcome=outcome,
        alerts=alerts,
        person_links=links,
        record_key=builder.case_id,
    )
    return RoutingResult(builder.records, effect)


def _link_people(
    event: Event, identity: IdentityContext, event_id: str
) -> tuple[list[PersonLink], list[str | None], list[AlertRaised]]:
    """Link the event's people to known persons; clashes become data-quality alerts, not merges."""
    known, types_of = identity
    links: list[PersonLink] = []
    keys: list[str | None] = []
    alerts: list[AlertRaised] = []
    for n, ref in enumerate(persons_in(event)):
        result = link(ref, known, types_of)
        keys.append(result.person_key)
        for id_type, value, key in result.new_links:
            links.append(PersonLink(id_type, value, key))
            known[(id_type, value)] = key
            types_of.setdefault(key, set()).add(id_type)
        for i, conflict in enumerate(result.conflicts):
            alerts.append(
                AlertRaised(
                    alert_id=derived_id(event_id, f"identity:{n}:{i}"),
                    case_id=str(getattr(event, "case_id", None) or event.key()),
                    kind="identity-conflict",
                    severity="data-quality",
                    message=f"not merged: {conflict}",
                )
            )
    return links, keys, alerts


def _unaddressed(event_id: str, event: Event, agency: Agency) -> AlertRaised:
    la_code = getattr(event, "la_code", None)
    return AlertRaised(
        alert_id=derived_id(event_id, f"unaddressed:{agency.value}"),
        case_id=str(getattr(event, "case_id", None) or event.key()),
        kind="recipient-not-named",
        severity="data-quality",
        organisation=OrganisationRef(agency=Agency.LA_SEN, code=la_code) if la_code else None,
        message=f"{event.event_type} was not shared with {agency.value}: the case names no {agency.value} "
        "organisation to receive it",
    )


def lawful_basis_for(request: AdviceRequested) -> str:
    return PUBLIC_TASK_HEALTH if request.recipient.agency == Agency.NHS else PUBLIC_TASK_STATUTORY


class _Builder:
    """Accumulates outbound records, deliveries and disclosure audits for one source event."""

    def __init__(self, source: Envelope, hub_source: str, case_id: str, with_records: bool, audit_v1: bool) -> None:
        self.with_records = with_records
        self.audit_v1 = audit_v1
        self.source = source
        self.hub_source = hub_source
        self.case_id = case_id
        self.records: list[OutboundRecord] = []
        self.deliveries: list[Delivery] = []
        self.disclosed: dict[str, list[dict[str, Any]]] = {}  # event id: its disclosures, in order

    @cached_property
    def source_document(self) -> dict[str, Any]:
        return self.source.model_dump(mode="json", exclude_none=True)

    def child(self, event: Event) -> dict[str, Any]:
        """The CloudEvent for an event the hub derives from the source event (same conversation).
        A rebuild publishes nothing and needs only its id and type, for the deliveries it records."""
        id = derived_id(self.source.id, f"emit:{event.event_type}:{event.key()}:{_discriminator(event)}")
        if not self.with_records:
            return {"id": id, "type": event.cloudevent_type(), "data": {}}
        return self._derived(
            id,
            event.cloudevent_type(),
            event.key(),
            f"{SCHEMA_BASE}{event.event_type}:v{event.version}",
            self.source.id,
            event.model_dump(mode="json", exclude_none=True),
        )

    def _derived(
        self, id: str, type: str, subject: str, dataschema: str, causationid: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        source = self.source_document
        return document(
            specversion="1.0",
            id=id,
            source=self.hub_source,
            type=type,
            subject=subject,
            time=source["time"],
            datacontenttype="application/json",
            dataschema=dataschema,
            correlationid=source["correlationid"],
            causationid=causationid,
            data=data,
        )

    def tell(self, doc: dict[str, Any], alert: AlertRaised) -> None:
        """Copy an alert to the organisation it concerns, as well as to operators. An alert carries
        codes, dates and the rule, never a person's details, so it needs no minimising or audit."""
        org = alert.organisation
        if org is not None and self.with_records:
            headers = addressed_to(org.agency.value, org.code)
            self.records.append(OutboundRecord(outbound_topic(org.agency), alert.key(), doc, headers))

    def deliver(
        self,
        doc: dict[str, Any] | None,
        key: str,
        agency: Agency,
        org_code: str | None,
        fields: tuple[str, ...],
        lawful_basis: str,
        also: bool = False,
    ) -> None:
        """A minimised copy of ``doc`` (None: the source event) to one organisation, with its
        disclosure audit. ``also`` marks a second organisation of the same agency (the next
        school), whose copy needs ids of its own."""
        if doc is None:
            event_id, event_type, data = self.source.id, self.source.type, self.source.data
        else:
            event_id, event_type, data = doc["id"], doc["type"], doc["data"]
        tag = f"{agency.value}:{org_code}" if also else agency.value
        delivery_id = derived_id(event_id, tag)
        minimised = minimise(data, fields)
        out_topic = outbound_topic(agency)
        shared = sorted(minimised) if fields != ALL else ["*"]
        self.deliveries.append(
            Delivery(delivery_id, agency.value, out_topic, event_type, shared, org_code or None, lawful_basis)
        )
        if not self.with_records:
            return
        base = self.source_document if doc is None else doc
        out = document(
            **{**base, "id": delivery_id, "source": self.hub_source, "causationid": event_id, "data": minimised}
        )
        self.records.append(OutboundRecord(out_topic, key, out, addressed_to(agency.value, org_code or None)))
        disclosure = {
            "recipient": f"{agency.value}:{org_code}" if org_code else agency.value,
            "fields": shared,
            "lawful_basis": lawful_basis,
        }
        self.disclosed.setdefault(event_id, []).append(disclosure)
        if self.audit_v1:
            audit_id = derived_id(event_id, f"audit:{tag}")
            audit = {"audit_id": audit_id, "case_id": self.case_id, "source_event_id": event_id, **disclosure}
            self._audit(RecordDisclosed, audit_id, event_id, audit)

    def audit(self) -> None:
        """One version 2 audit record per disclosed event, naming all its recipients."""
        for event_id, disclosures in self.disclosed.items():
            audit_id = derived_id(event_id, "audit")
            audit = {
                "audit_id": audit_id,
                "case_id": self.case_id,
                "source_event_id": event_id,
                "disclosures": disclosures,
            }
            self._audit(RecordDisclosedV2, audit_id, event_id, audit)

    def _audit(self, contract: type[Event], audit_id: str, event_id: str, data: dict[str, Any]) -> None:
        type_, schema = _AUDIT_CONTRACTS[contract]
        doc = self._derived(audit_id, type_, self.case_id, schema, event_id, data)
        self.records.append(OutboundRecord(contract.topic, self.case_id, doc))


_AUDIT_CONTRACTS: dict[type[Event], tuple[str, str]] = {
    c: (c.cloudevent_type(), f"{SCHEMA_BASE}{c.event_type}:v{c.version}") for c in (RecordDisclosed, RecordDisclosedV2)
}
_ENVELOPE_FIELDS = tuple(Envelope.model_fields)


def document(**fields: Any) -> dict[str, Any]:
    """A CloudEvent as the JSON the envelope model writes: its fields in the model's order, none
    that are None."""
    return {name: fields[name] for name in _ENVELOPE_FIELDS if fields.get(name) is not None}


def _discriminator(event: Event) -> str:
    fields = type(event).model_fields
    for name in ("request_id", "alert_id", "audit_id"):
        if name in fields:
            return str(getattr(event, name))
    return ""
