"""Health advice messages as an NHS provider would send them, built from plain values."""

from __future__ import annotations

import base64
from typing import Any

from adapters.nhs_fhir.codes import EVENT_ADVICE, MESSAGE_EVENTS, NHS_NUMBER, ODS_CODE, QUESTIONNAIRE_URL

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _practitioner(pid: str, name: str) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{pid}",
        "resource": {
            "resourceType": "Practitioner",
            "id": pid,
            "name": [{"family": name.split()[-1], "given": name.split()[:-1]}],
        },
    }


def _envelope(bundle_id: str, ods: str, focus_url: str, resources: list[dict[str, Any]], nhs: str) -> dict[str, Any]:
    header = {
        "resourceType": "MessageHeader",
        "id": f"mh-{bundle_id}",
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_ADVICE},
        "source": {"name": "Provider EPR", "endpoint": f"https://{ods.lower()}.nhs.example/fhir"},
        "sender": {"reference": "urn:uuid:org-1"},
        "focus": [{"reference": focus_url}],
    }
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "type": "message",
        "timestamp": "2026-03-20T10:00:00+00:00",
        "entry": [
            {"fullUrl": f"urn:uuid:mh-{bundle_id}", "resource": header},
            *resources,
            {
                "fullUrl": "urn:uuid:org-1",
                "resource": {
                    "resourceType": "Organization",
                    "id": "org-1",
                    "identifier": [{"system": ODS_CODE, "value": ods}],
                    "name": "Evelina London",
                },
            },
            {
                "fullUrl": "urn:uuid:pat-1",
                "resource": {
                    "resourceType": "Patient",
                    "id": "pat-1",
                    "identifier": [{"system": NHS_NUMBER, "value": nhs}],
                },
            },
            _practitioner("pr-1", "Priya Shah"),
            _practitioner("pr-dmo", "Anil Rao"),
        ],
    }


def questionnaire_response_message(
    bundle_id: str, request_id: str, nhs: str, ods: str = "RBS", authored: str = "2026-03-20", signed: bool = True
) -> dict[str, Any]:
    items = [
        {"linkId": "health-needs", "answer": [{"valueString": "Speech, language and communication needs"}]},
        {"linkId": "health-provision", "answer": [{"valueString": "SALT 1 hour weekly"}]},
        {"linkId": "health-outcomes", "answer": [{"valueString": "Uses 3-word phrases"}]},
    ]
    if signed:
        items.append(
            {
                "linkId": "dmo-signoff",
                "item": [
                    {"linkId": "dmo-signoff.name", "answer": [{"valueString": "Dr Anil Rao"}]},
                    {"linkId": "dmo-signoff.role", "answer": [{"valueString": "Designated Medical Officer"}]},
                    {"linkId": "dmo-signoff.date", "answer": [{"valueDate": "2026-03-21"}]},
                ],
            }
        )
    qr = {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{bundle_id}",
        "questionnaire": QUESTIONNAIRE_URL,
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{request_id}"}],
        "subject": {"reference": "urn:uuid:pat-1"},
        "authored": authored,
        "author": {"reference": "urn:uuid:pr-1"},
        "item": items,
    }
    return _envelope(
        bundle_id, ods, f"urn:uuid:qr-{bundle_id}", [{"fullUrl": f"urn:uuid:qr-{bundle_id}", "resource": qr}], nhs
    )


def document_reference_message(
    bundle_id: str, request_id: str, nhs: str, ods: str = "RBS", data: bytes = PDF
) -> dict[str, Any]:
    doc = {
        "resourceType": "DocumentReference",
        "id": f"doc-{bundle_id}",
        "status": "current",
        "type": {"text": "Paediatric report for EHC needs assessment"},
        "subject": {"identifier": {"system": NHS_NUMBER, "value": nhs}},
        "date": "2026-03-18T09:30:00+00:00",
        "author": [{"reference": "urn:uuid:pr-1"}],
        "authenticator": {"reference": "urn:uuid:pr-dmo"},
        "description": "Community paediatrician's report",
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "title": "report.pdf",
                    "data": base64.b64encode(data).decode(),
                }
            }
        ],
        "context": {"related": [{"reference": f"ServiceRequest/{request_id}"}]},
    }
    return _envelope(
        bundle_id, ods, f"urn:uuid:doc-{bundle_id}", [{"fullUrl": f"urn:uuid:doc-{bundle_id}", "resource": doc}], nhs
    )
