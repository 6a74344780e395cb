"""REST ingress for any canonical event: validated, judged against what the hub knows and
deduplicated by its id exactly as the typed endpoints are, then durably on Kafka before 202."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from adapters.access import Caller, own_organisation, permit, refuse, refuse_foreign_claims
from adapters.common import Submission
from adapters.http import SUBMISSION_RESPONSES, Port, document_id_for
from hub.http.errors import problem
from schemas.envelope import EventRejected, JsonRefused, decode, parse_json
from schemas.events import EVENTS_BY_TYPE

router = APIRouter(prefix="/api/v1", tags=["ingress"])


def complete_envelope(doc: dict[str, Any], default_source: str) -> dict[str, Any]:
    """Fill the envelope attributes a simple sender may leave out (id, time, source, correlation id),
    and accept the short event type name of the latest version."""
    doc = dict(doc)
    short = {m.event_type: t for t, m in EVENTS_BY_TYPE.items()}
    if doc.get("type") in short:  # "assessment-requested" for "uk.ehc-hub.assessment-requested.v1"
        doc["type"] = short[doc["type"]]
    doc.setdefault("specversion", "1.0")
    doc.setdefault("id", str(uuid.uuid4()))
    doc.setdefault("time", datetime.now(UTC).isoformat())
    doc.setdefault("source", default_source)
    doc.setdefault("correlationid", doc["id"])
    return doc


@router.post(
    "/events",
    status_code=202,
    summary="Submit one canonical event (CloudEvents structured JSON)",
    responses=SUBMISSION_RESPONSES,
)
async def submit_event(
    request: Request,
    port: Port,
    idempotency_key: str | None = Header(default=None, description="names the event when it has no id"),
    caller: Caller = permit(),
) -> JSONResponse:
    """The event's ``source`` is the caller's organisation: omit it, or send exactly that. Its
    ``id`` names it: omitted, it comes from the Idempotency-Key, or else from the content, so a
    resend is the same event."""
    body = await request.body()  # bounded as it streams in (hub.http.body_limit)
    try:
        doc = parse_json(body)
    except JsonRefused as exc:
        return problem(400, f"body: {exc.message}", rule=exc.rule)
    if not isinstance(doc, dict):
        return problem(422, "body must be a JSON object (a CloudEvent)", rule="type")
    own = own_organisation(caller).source
    if doc.get("source", own) != own:
        raise refuse(f"source is {doc.get('source')!r}, but the caller is {own}")
    if "id" not in doc:
        doc["id"] = document_id_for(own, idempotency_key, doc)
    raw = json.dumps(complete_envelope(doc, own)).encode()
    try:
        envelope, event = decode(raw)
    except EventRejected as exc:
        return problem(422, exc.reason, field=exc.field, rule=exc.rule)
    org = refuse_foreign_claims(caller, event)
    submission = Submission(
        event,
        own,
        envelope.id,
        sender=org,
        correlation_id=envelope.correlationid,
        causation_id=envelope.causationid,
        time=envelope.time,
    )
    [result] = await port.submit_many([submission])
    if result.outcome == "rejected":
        return problem(result.status, result.message, field=result.field, rule=result.rule)
    return JSONResponse(
        status_code=result.status,
        content={"id": envelope.id, "type": envelope.type, "topic": event.topic, "outcome": result.outcome},
    )
