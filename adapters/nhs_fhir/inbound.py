"""Health advice arriving as a FHIR R4 message Bundle, read into plain facts. Pure.

Accepted focus resources: a QuestionnaireResponse against the hub's Questionnaire, or a report as
a DocumentReference (attachments included) or a Composition. Every resource the hub reads (the
MessageHeader, and each resource it follows a reference to: the focus, sender, subject and
authors) is validated with fhir.resources' R4B models before it is read, then with the rules that
matter here (UK Core NHS number and ODS code systems, Modulus 11). Resources the message carries
that the hub neither reads nor keeps are checked for structure only (a known resource type and a
valid id): full validation costs as much per element as the rest of accepting the message, and a
provider's extra context should not decide whether its advice is taken. Each problem is raised as
an OperationOutcome issue naming the element.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from adapters.nhs_fhir import questionnaire as q
from adapters.nhs_fhir.codes import EVENT_ADVICE, NHS_NUMBER, ODS_CODE, QUESTIONNAIRE_URL, REQUEST_IDENTIFIER
from adapters.nhs_fhir.outcome import FhirProblem, Issue, entry_path, validate_resource
from schemas.identifiers import nhs_number_problem, ods_code_problem

FOCUS_TYPES = ("QuestionnaireResponse", "DocumentReference", "Composition")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@dataclass
class InboundAdvice:
    bundle_id: str | None
    message_id: str | None
    sender_ods: str
    request_id: str
    nhs_number: str | None
    submitted_date: date
    adviser_name: str
    adviser_role: str
    summary: str
    output_reference: str
    output_path: str = "Bundle"  # FHIRPath of the advice resource in the message, for errors about it
    signoff_name: str | None = None
    signoff_role: str | None = None
    signoff_date: date | None = None
    attachments: list[str] = field(default_factory=list)


def _fail(status: int, code: str, diagnostics: str, expression: str) -> FhirProblem:
    return FhirProblem(status, [Issue(code, diagnostics, expression)])


class _Message:
    """Index of a message Bundle's entries, resolving references by fullUrl or Type/id. A resource
    is validated in full the first time it is resolved, so whatever the hub reads has been."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.by_ref: dict[str, tuple[int, dict[str, Any]]] = {}
        self.validated: set[int] = set()
        for i, entry in enumerate(doc.get("entry", [])):
            resource = entry.get("resource", {})
            if entry.get("fullUrl"):
                self.by_ref[entry["fullUrl"]] = (i, resource)
            if resource.get("id"):
                self.by_ref[f"{resource['resourceType']}/{resource['id']}"] = (i, resource)

    def resolve(self, reference: dict[str, Any] | None) -> tuple[int, dict[str, Any]] | None:
        if not reference or "reference" not in reference:
            return None
        found = self.by_ref.get(reference["reference"])
        if found is not None:
            self.validate(*found)
        return found

    def validate(self, index: int, resource: dict[str, Any]) -> None:
        if index in self.validated:
            return
        validate_resource(
            get_fhir_model_class(resource["resourceType"]), resource, "Bundle", ("entry", index, "resource"), self.doc
        )
        self.validated.add(index)


def _check_structure(doc: dict[str, Any]) -> None:
    """The Bundle itself in full, and of each entry's resource only what indexing it needs: an
    object of a known resource type with a valid id. Resources are validated in full when read."""
    entries = doc.get("entry")
    shell = doc
    if isinstance(entries, list):
        shell = {
            **doc,
            "entry": [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e for e in entries],
        }
    validate_resource(Bundle, shell, "Bundle", doc=doc)
    for i, entry in enumerate(entries or []):
        if "resource" not in entry:
            continue
        resource, where = entry["resource"], f"Bundle.entry[{i}].resource"
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str) or not _is_resource_type(kind):
            raise _fail(400, "structure", f"{where} must be a FHIR resource with a known resourceType", where)
        rid = resource.get("id")
        if rid is not None and not (isinstance(rid, str) and FHIR_ID.fullmatch(rid)):
            raise _fail(400, "value", f"{rid!r} is not a FHIR id", f"{entry_path(i, resource)}.id")


def _is_resource_type(name: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except (ValueError, KeyError, ImportError):
        return False


def read_advice_message(doc: Any) -> InboundAdvice:
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise _fail(400, "structure", "the body must be a FHIR Bundle", "Bundle")
    _check_structure(doc)
    if doc.get("type") != "message":
        raise _fail(400, "value", f"Bundle.type must be 'message', not {doc.get('type')!r}", "Bundle.type")
    entries = doc.get("entry") or []
    header = entries[0].get("resource", {}) if entries else {}
    if header.get("resourceType") != "MessageHeader":
        raise _fail(
            400, "structure", "the first entry of a message Bundle must be a MessageHeader", "Bundle.entry[0].resource"
        )
    message = _Message(doc)
    message.validate(0, header)
    h = entry_path(0, header)
    event = (header.get("eventCoding") or {}).get("code")
    if event != EVENT_ADVICE:
        raise _fail(
            422,
            "not-supported",
            f"message event {event!r} is not accepted here; send {EVENT_ADVICE!r}",
            f"{h}.eventCoding.code",
        )
    sender_ods = _sender_ods(header, message, h)
    focus = [message.resolve(ref) for ref in header.get("focus") or []]
    found = next(((i, r) for f in focus if f for i, r in [f] if r.get("resourceType") in FOCUS_TYPES), None)
    if found is None:
        raise _fail(
            422,
            "required",
            f"MessageHeader.focus must reference one of {', '.join(FOCUS_TYPES)} in the Bundle",
            f"{h}.focus",
        )
    index, resource = found
    path = entry_path(index, resource)
    reader = {
        "QuestionnaireResponse": _from_questionnaire_response,
        "DocumentReference": _from_document_reference,
        "Composition": _from_composition,
    }[resource["resourceType"]]
    advice = reader(resource, message, path)
    advice.bundle_id, advice.message_id, advice.sender_ods = doc.get("id"), header.get("id"), sender_ods
    advice.output_path = path
    return advice


def _sender_ods(header: dict[str, Any], message: _Message, h: str) -> str:
    sender = header.get("sender") or {}
    identifier = sender.get("identifier")
    where = f"{h}.sender.identifier"
    if identifier is None:
        resolved = message.resolve(sender)
        if resolved is None:
            raise _fail(
                422, "required", "MessageHeader.sender must identify the NHS organisation by ODS code", f"{h}.sender"
            )
        i, org = resolved
        identifier = next((x for x in org.get("identifier", []) if x.get("system") == ODS_CODE), None)
        where = f"{entry_path(i, org)}.identifier"
    if not identifier or identifier.get("system") != ODS_CODE:
        raise _fail(422, "required", f"the sender needs an identifier with system {ODS_CODE}", where)
    problem = ods_code_problem(str(identifier.get("value", "")))
    if problem:
        raise _fail(422, "value", problem, f"{where}.value")
    return str(identifier["value"])


def _request_id(references: list[dict[str, Any]], path: str) -> str:
    for ref in references:
        if ref.get("identifier", {}).get("system") == REQUEST_IDENTIFIER:
            return str(ref["identifier"]["value"])
        text = ref.get("reference", "")
        if text.startswith(("ServiceRequest/", "Task/")):
            return text.split("/", 1)[1]
    raise _fail(422, "required", "the advice must reference the ServiceRequest or Task it answers", path)


def _nhs_number(subject: dict[str, Any] | None, message: _Message, path: str) -> str | None:
    """The NHS number of the subject, checked against UK Core's system and the Modulus 11 rule."""
    if not subject:
        raise _fail(422, "required", "the advice must name its subject (the Patient)", path)
    identifiers = [subject["identifier"]] if "identifier" in subject else []
    where = f"{path}.identifier"
    listed = False
    if not identifiers:
        resolved = message.resolve(subject)
        if resolved is None:
            raise _fail(422, "not-found", f"subject {subject.get('reference')!r} is not in the Bundle", path)
        i, patient = resolved
        identifiers = patient.get("identifier", [])
        where = f"{entry_path(i, patient)}.identifier"
        listed = True
    for n, identifier in enumerate(identifiers):
        if identifier.get("system") == NHS_NUMBER:
            value = str(identifier.get("value", ""))
            problem = nhs_number_problem(value)
            if problem:
                suffix = f"[{n}]" if listed else ""
                raise _fail(422, "value", problem, f"{where}{suffix}.value")
            return value
    return None


def _person(reference: dict[str, Any] | None, message: _Message) -> tuple[str, str]:
    resolved = message.resolve(reference) if reference else None
    if reference and resolved is None and reference.get("display"):
        return str(reference["display"]), "Health professional"
    if resolved is None:
        return "Unnamed clinician", "Health professional"
    _, resource = resolved
    if resource.get("resourceType") == "PractitionerRole":
        role = (resource.get("code") or [{}])[0].get("text") or "Health professional"
        practitioner = message.resolve(resource.get("practitioner"))
        name = _name(practitioner[1]) if practitioner else "Unnamed clinician"
        return name, role
    return _name(resource), "Health professional"


def _name(resource: dict[str, Any]) -> str:
    for n in resource.get("name", []):
        if n.get("text"):
            return str(n["text"])
        parts = [*n.get("prefix", []), *n.get("given", []), n.get("family", "")]
        if any(parts):
            return " ".join(p for p in parts if p)
    return "Unnamed clinician"


def _day(value: str | None, path: str) -> date:
    if not value:
        raise _fail(422, "required", "a date is required", path)
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise _fail(400, "value", f"{value!r} is not a FHIR date", path) from None


def _answers(items: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        for answer in item.get("answer", []):
            for key in ("valueString", "valueDate", "valueCoding", "valueBoolean"):
                if key in answer:
                    out[item["linkId"]] = answer[key]
        out.update(_answers(item.get("item", [])))
    return out


def _from_questionnaire_response(resource: dict[str, Any], message: _Message, path: str) -> InboundAdvice:
    if str(resource.get("questionnaire", "")).split("|")[0] != QUESTIONNAIRE_URL:
        raise _fail(
            422, "not-supported", f"answer the hub's Questionnaire {QUESTIONNAIRE_URL}", f"{path}.questionnaire"
        )
    if resource.get("status") not in ("completed", "amended"):
        raise _fail(422, "value", "only a completed (or amended) QuestionnaireResponse is advice", f"{path}.status")
    answers = _answers(resource.get("item", []))
    for required in (q.ITEM_NEEDS, q.ITEM_PROVISION):
        if not answers.get(required):
            raise _fail(
                422, "required", f"item {required!r} needs an answer", f"{path}.item.where(linkId='{required}')"
            )
    name, role = _person(resource.get("author"), message)
    summary = "\n".join(
        f"{label}: {answers[k]}"
        for label, k in (
            ("C health needs", q.ITEM_NEEDS),
            ("G health provision", q.ITEM_PROVISION),
            ("Outcomes", q.ITEM_OUTCOMES),
        )
        if answers.get(k)
    )
    signoff_date = answers.get(q.ITEM_SIGNOFF_DATE)
    return InboundAdvice(
        bundle_id=None,
        message_id=None,
        sender_ods="",
        request_id=_request_id(resource.get("basedOn", []), f"{path}.basedOn"),
        nhs_number=_nhs_number(resource.get("subject"), message, f"{path}.subject"),
        submitted_date=_day(resource.get("authored"), f"{path}.authored"),
        adviser_name=name,
        adviser_role=role,
        summary=summary,
        output_reference=f"QuestionnaireResponse/{resource.get('id', '')}",
        signoff_name=answers.get(q.ITEM_SIGNOFF_NAME),
        signoff_role=answers.get(q.ITEM_SIGNOFF_ROLE),
        signoff_date=_day(signoff_date, f"{path}.item.where(linkId='{q.ITEM_SIGNOFF_DATE}')") if signoff_date else None,
    )


def _attachments(resource: dict[str, Any], path: str) -> list[str]:
    out = []
    for n, content in enumerate(resource.get("content", [])):
        attachment = content.get("attachment", {})
        where = f"{path}.content[{n}].attachment"
        if attachment.get("data"):
            try:
                base64.b64decode(attachment["data"], validate=True)
            except (binascii.Error, ValueError):
                raise _fail(400, "value", "attachment data is not valid base64", f"{where}.data") from None
            out.append(f"data:{attachment.get('contentType', 'application/octet-stream')};base64,{attachment['data']}")
        elif attachment.get("url"):
            out.append(str(attachment["url"]))
        else:
            raise _fail(422, "required", "an attachment needs data or a url", where)
    if not out:
        raise _fail(422, "required", "a report needs at least one attachment", f"{path}.content")
    return out


def _from_document_reference(resource: dict[str, Any], message: _Message, path: str) -> InboundAdvice:
    if resource.get("status") != "current":
        raise _fail(422, "value", "only a current DocumentReference is advice", f"{path}.status")
    related = (resource.get("context") or {}).get("related", [])
    name, role = _person((resource.get("author") or [None])[0], message)
    submitted = _day(resource.get("date"), f"{path}.date")
    signer = resource.get("authenticator")
    signoff_name, signoff_role = _person(signer, message) if signer else (None, None)
    return InboundAdvice(
        bundle_id=None,
        message_id=None,
        sender_ods="",
        request_id=_request_id(related, f"{path}.context.related"),
        nhs_number=_nhs_number(resource.get("subject"), message, f"{path}.subject"),
        submitted_date=submitted,
        adviser_name=name,
        adviser_role=role,
        summary=str(resource.get("description") or "Health advice report (attached)"),
        output_reference=f"DocumentReference/{resource.get('id', '')}",
        signoff_name=signoff_name,
        signoff_role=signoff_role,
        signoff_date=submitted if signer else None,
        attachments=_attachments(resource, path),
    )


def _from_composition(resource: dict[str, Any], message: _Message, path: str) -> InboundAdvice:
    if resource.get("status") not in ("final", "amended"):
        raise _fail(422, "value", "only a final (or amended) Composition is advice", f"{path}.status")
    related = [d for e in resource.get("event", []) for d in e.get("detail", [])]
    name, role = _person((resource.get("author") or [None])[0], message)
    attester = next((a for a in resource.get("attester", []) if a.get("mode") in ("legal", "professional")), None)
    signoff_name, signoff_role = _person(attester.get("party"), message) if attester else (None, None)
    summary = "\n".join(
        f"{s.get('title', 'Section')}: {s.get('text', {}).get('div', '')}" for s in resource.get("section", [])
    )
    return InboundAdvice(
        bundle_id=None,
        message_id=None,
        sender_ods="",
        request_id=_request_id(related, f"{path}.event.detail"),
        nhs_number=_nhs_number(resource.get("subject"), message, f"{path}.subject"),
        submitted_date=_day(resource.get("date"), f"{path}.date"),
        adviser_name=name,
        adviser_role=role,
        summary=summary or str(resource.get("title", "")),
        output_reference=f"Composition/{resource.get('id', '')}",
        signoff_name=signoff_name,
        signoff_role=signoff_role,
        signoff_date=_day(attester.get("time"), f"{path}.attester.time") if attester and attester.get("time") else None,
    )
