"""What the hub tells an NHS provider, other than asking for advice, as FHIR R4 messages: an
assessment decision, a panel outcome or an alert (advice the provider owes falling due, say) as a
``Communication``, the plan's health sections (C and G)
as a ``Composition``, each carried in a message Bundle whose MessageHeader names the kind of event.

Only the fields the sharing policy let through reach here; the structured data travels beside the
human-readable text as a JSON attachment, so a receiving system need not parse prose. Pure:
the outbound CloudEvent in, FHIR JSON out.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

from adapters.nhs_fhir.codes import (
    CASE_IDENTIFIER,
    EVENT_ALERT,
    EVENT_ASSESSMENT_DECISION,
    EVENT_NOTIFICATION,
    EVENT_PANEL_OUTCOME,
    EVENT_PLAN,
    MESSAGE_EVENTS,
    NOTIFICATION_IDENTIFIER,
    ODS_CODE,
)

EVENT_CODES = {
    "alert-raised": EVENT_ALERT,
    "assessment-decision-made": EVENT_ASSESSMENT_DECISION,
    "panel-outcome-recorded": EVENT_PANEL_OUTCOME,
    "plan-recorded": EVENT_PLAN,
}
HEALTH_SECTIONS = {"c": "C: Health care needs", "g": "G: Health provision"}
SENDER = "EHC integration hub"


def describe(event_type: str, data: dict[str, Any]) -> str:
    """One line a clinician can read without the attachment."""
    case = f"EHC case {data.get('case_id')} (local authority {data.get('la_code')})"
    if event_type == "assessment-decision-made":
        return f"{case}: decision {data.get('decision')} on {data.get('decision_date')}."
    if event_type == "panel-outcome-recorded":
        summary = f" Health: {data['health_summary']}" if data.get("health_summary") else ""
        return f"{case}: panel of {data.get('panel_date')} decided {data.get('outcome')}.{summary}"
    if event_type == "plan-recorded":
        return f"{case}: plan {data.get('kind')} on {data.get('event_date')}."
    if event_type == "alert-raised":
        due = f" (due {data['due_date']})" if data.get("due_date") else ""
        return f"EHC case {data.get('case_id')}: {data.get('severity')}: {data.get('message')}{due}."
    return f"{case}: {event_type}."


def communication(notification_id: str, event_type: str, data: dict[str, Any], ods: str, sent: str) -> dict[str, Any]:
    attachment = base64.b64encode(json.dumps(data, sort_keys=True).encode()).decode()
    return {
        "resourceType": "Communication",
        "id": notification_id,
        "identifier": [{"system": NOTIFICATION_IDENTIFIER, "value": notification_id}],
        "status": "completed",
        "priority": "urgent" if data.get("severity") == "breach" else "routine",
        "category": [{"coding": [{"system": MESSAGE_EVENTS, "code": EVENT_CODES.get(event_type, EVENT_NOTIFICATION)}]}],
        "about": [{"identifier": {"system": CASE_IDENTIFIER, "value": str(data.get("case_id"))}}],
        "sent": sent,
        "recipient": [{"identifier": {"system": ODS_CODE, "value": ods}}],
        "sender": {"display": SENDER},
        "payload": [
            {"contentString": describe(event_type, data)},
            {"contentAttachment": {"contentType": "application/json", "data": attachment, "title": event_type}},
        ],
    }


def health_sections(notification_id: str, data: dict[str, Any], ods: str, sent: str) -> dict[str, Any]:
    """Sections C and G of a plan as a Composition."""
    sections = data.get("sections") or {}
    return {
        "resourceType": "Composition",
        "id": notification_id,
        "identifier": {"system": NOTIFICATION_IDENTIFIER, "value": notification_id},
        "status": "final",
        "type": {"text": "EHC plan: health sections"},
        "date": sent,
        "author": [{"display": f"Local authority {data.get('la_code')}"}],
        "title": describe("plan-recorded", data),
        "relatesTo": [
            {"code": "appends", "targetIdentifier": {"system": CASE_IDENTIFIER, "value": str(data.get("case_id"))}}
        ],
        "section": [_section(title, sections.get(key)) for key, title in HEALTH_SECTIONS.items()],
    }


def _section(title: str, text: str | None) -> dict[str, Any]:
    """A section is never left without text (R4 cmp-1): one the plan left empty says so."""
    shown = html.escape(text or "Nothing recorded in this section.")
    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{shown}</p></div>'
    return {"title": title, "text": {"status": "generated" if text else "empty", "div": div}}


def focus_of(notification_id: str, event_type: str, data: dict[str, Any], ods: str, sent: str) -> dict[str, Any]:
    if event_type == "plan-recorded":
        return health_sections(notification_id, data, ods, sent)
    return communication(notification_id, event_type, data, ods, sent)


def notification_message(
    notification_id: str, event_type: str, data: dict[str, Any], ods: str, source_endpoint: str, timestamp: str
) -> dict[str, Any]:
    """A FHIR message: the MessageHeader (its event code names the kind), then its focus."""
    base = source_endpoint.rstrip("/")
    focus = focus_of(notification_id, event_type, data, ods, timestamp)
    reference = f"{focus['resourceType']}/{notification_id}"
    header = {
        "resourceType": "MessageHeader",
        "id": notification_id,
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_CODES.get(event_type, EVENT_NOTIFICATION)},
        "destination": [
            {"endpoint": f"{ODS_CODE}|{ods}", "receiver": {"identifier": {"system": ODS_CODE, "value": ods}}}
        ],
        "source": {"name": SENDER, "endpoint": source_endpoint},
        "focus": [{"reference": reference}],
    }
    return {
        "resourceType": "Bundle",
        "id": notification_id,
        "type": "message",
        "timestamp": timestamp,
        "entry": [
            {"fullUrl": f"{base}/MessageHeader/{notification_id}", "resource": header},
            {"fullUrl": f"{base}/{reference}", "resource": focus},
        ],
    }
