"""Health advice requests as FHIR R4: a ServiceRequest for the advice and a Task for the provider
(intent order, owner by ODS code, for the Patient by NHS number, restriction.period.end = the
statutory due date), and the message Bundle that carries them. Pure: canonical data in, JSON out."""

from __future__ import annotations

from datetime import date
from typing import Any

from adapters.nhs_fhir.codes import (
    CASE_IDENTIFIER,
    EVENT_ADVICE_REQUEST,
    MESSAGE_EVENTS,
    NHS_NUMBER,
    ODS_CODE,
    QUESTIONNAIRE_URL,
    REQUEST_IDENTIFIER,
)
from schemas.events import AdviceRequested


def patient_reference(request: AdviceRequested) -> dict[str, Any]:
    ref: dict[str, Any] = {"type": "Patient"}
    if request.person.nhs_number:
        ref["identifier"] = {"system": NHS_NUMBER, "value": request.person.nhs_number}
    return ref


def service_request(request: AdviceRequested) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": request.request_id,
        "identifier": [{"system": REQUEST_IDENTIFIER, "value": request.request_id}],
        "requisition": {"system": CASE_IDENTIFIER, "value": request.case_id},
        "status": "active",
        "intent": "order",
        "category": [{"text": "EHC needs assessment advice"}],
        "code": {"text": "Health advice for an EHC needs assessment (SEND Regs reg 6(1)(c))"},
        "subject": patient_reference(request),
        "authoredOn": request.requested_date.isoformat(),
        "performer": [{"identifier": {"system": ODS_CODE, "value": request.recipient.code}}],
        "supportingInfo": [{"display": f"Answer with {QUESTIONNAIRE_URL} or a report (DocumentReference)"}],
    }


def task(
    request: AdviceRequested,
    status: str = "requested",
    *,
    status_reason: str | None = None,
    output_reference: str | None = None,
    last_modified: date | None = None,
    due: date | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": request.request_id,
        "identifier": [{"system": REQUEST_IDENTIFIER, "value": request.request_id}],
        "groupIdentifier": {"system": CASE_IDENTIFIER, "value": request.case_id},
        "status": status,
        "intent": "order",
        "code": {"text": "Provide health advice for an EHC needs assessment"},
        "focus": {"reference": f"ServiceRequest/{request.request_id}"},
        "for": patient_reference(request),
        "authoredOn": request.requested_date.isoformat(),
        "owner": {"identifier": {"system": ODS_CODE, "value": request.recipient.code}},
        "restriction": {"period": {"end": (due or request.due_date).isoformat()}},
        "input": [{"type": {"text": "questionnaire"}, "valueCanonical": QUESTIONNAIRE_URL}],
    }
    if last_modified:
        resource["lastModified"] = last_modified.isoformat()
    if status_reason:
        resource["statusReason"] = {"text": status_reason}
    if output_reference:
        resource["output"] = [{"type": {"text": "health advice"}, "valueReference": {"reference": output_reference}}]
    return resource


def patient(request: AdviceRequested) -> dict[str, Any]:
    p = request.person
    resource: dict[str, Any] = {"resourceType": "Patient", "id": f"patient-{request.request_id}"}
    if p.nhs_number:
        resource["identifier"] = [{"system": NHS_NUMBER, "value": p.nhs_number}]
    if p.family_name or p.given_name:
        resource["name"] = [{"family": p.family_name, "given": [p.given_name] if p.given_name else []}]
    if p.date_of_birth:
        resource["birthDate"] = p.date_of_birth.isoformat()
    return resource


def request_message(
    request: AdviceRequested, bundle_id: str, source_endpoint: str, timestamp: str, due: date | None = None
) -> dict[str, Any]:
    """A FHIR message: MessageHeader first, then the Task, the ServiceRequest and the Patient. Each
    entry's fullUrl is where the hub serves it, so the relative references between them resolve."""
    base = source_endpoint.rstrip("/")
    resources = [task(request, due=due), service_request(request), patient(request)]
    header = {
        "resourceType": "MessageHeader",
        "id": bundle_id,
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_ADVICE_REQUEST},
        "destination": [
            {
                "endpoint": f"{ODS_CODE}|{request.recipient.code}",
                "receiver": {"identifier": {"system": ODS_CODE, "value": request.recipient.code}},
            }
        ],
        "source": {"name": "EHC integration hub", "endpoint": source_endpoint},
        "focus": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources[:2]],
    }
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "message",
        "timestamp": timestamp,
        "entry": [{"fullUrl": f"{base}/MessageHeader/{bundle_id}", "resource": header}]
        + [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
