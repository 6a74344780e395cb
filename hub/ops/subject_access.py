"""Subject access (UK GDPR Art. 15): everything the hub holds on one person, found through any of
their identifiers, as one machine-readable export.

The export is built from the store's rows by pure functions, so what is shown and what is
redacted can be tested with plain data. Other people named in the person's records (a carer
whose assessment was offered for reuse, the people a carer cares for) are third parties: their
details and the findings about them are redacted unless the export is made for review by someone
allowed to see them. The hub's internal person keys never leave: they are hashes of identifiers.
Each export is audited without personal data: the identifier's type and keyed pseudonym, the
cases and the counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from hub.auth.masking import PERSONAL_FIELDS
from hub.auth.pseudonyms import pseudonym
from hub.domain.identity import IdKey, identifiers, identifiers_in
from hub.store.subjects import record_keys
from schemas.common import PersonRef

IdentifierType = Literal["nhs_number", "upn", "uln", "la_person_id"]
REDACTED = "[third party: redacted]"
INTERNAL_KEYS = frozenset({"person_key", "assessed_key", "cared_for_keys", "pseudonym"})
PERSON_FIELDS = PERSONAL_FIELDS | {"la_person_id"}
ABOUT_THE_PERSON_ASSESSED = frozenset(
    {"eligibility", "eligibility_indication", "material_change_flags", "changes_since"}
)
"""Findings of a care assessment, which are about the person assessed: a carer's are theirs."""

Holdings = dict[str, Any]


class SubjectStore(Protocol):
    async def person_key_for(self, id_type: str, id_value: str) -> str | None: ...

    async def subject_holdings(self, person_key: str) -> Holdings: ...


class CaseDispatches(Protocol):
    async def for_case(self, case_id: str) -> list[dict[str, Any]]: ...


class IdentifierRefused(ValueError):
    """An identifier that no record could carry: named so the requester can correct it."""


def subject_identifier(id_type: IdentifierType, value: str, la_code: str | None = None) -> IdKey:
    """The identifier as the store links it, checked by the rules every event's identifiers meet
    (an NHS number's check digit, a UPN's check letter; an LA person id needs its council)."""
    try:
        ref = PersonRef.model_validate({id_type: value, "la_code": la_code})
    except ValidationError as exc:
        error = exc.errors()[0]
        raise IdentifierRefused(error["msg"].removeprefix("Value error, ")) from None
    return identifiers(ref)[0]


async def export_for(
    store: SubjectStore,
    identifier: IdKey,
    *,
    actor: str,
    third_parties: Literal["redacted", "shown"] = "redacted",
    dispatch: CaseDispatches | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The export for the person ``identifier`` points at; one that says nothing is held when it
    points at nobody, since confirming that is part of the answer."""
    person_key = await store.person_key_for(*identifier)
    holdings = await store.subject_holdings(person_key) if person_key else None
    if holdings is not None and dispatch is not None:
        holdings["dispatches"] = [d for key in record_keys(holdings) for d in await dispatch.for_case(key)]
    return build_export(holdings, identifier, actor=actor, third_parties=third_parties, now=now or datetime.now(UTC))


def build_export(
    holdings: Holdings | None,
    identifier: IdKey,
    *,
    actor: str,
    third_parties: Literal["redacted", "shown"],
    now: datetime,
) -> dict[str, Any]:
    subject_ids = {(r["id_type"], r["id_value"]) for r in (holdings or {}).get("identifiers", [])} | {identifier}
    doc: dict[str, Any] = {
        "export": "subject-access",
        "generated_at": now.isoformat(),
        "generated_by": actor,
        "asked_by": identifier[0],
        "found": holdings is not None,
        "third_parties": third_parties,
        "subject": {"identifiers": [{"type": t, "value": v} for t, v in sorted(subject_ids)]},
    }
    if holdings is None:
        return doc
    disclosures = _disclosures(holdings["disclosures"], holdings.get("dispatches", []))
    redactions = [0]
    body = {
        "cases": holdings["cases"],
        "events": holdings["events"],
        "care_assessments": holdings["care_assessments"],
        "transition": {
            "determinations": holdings["transition_determinations"],
            "referrals": holdings["referrals"],
            "assessment_decisions": holdings["assessment_decisions"],
            "circumstance_changes": holdings["circumstance_changes"],
        },
    }
    body = _without_internal_keys(body)
    if third_parties == "redacted":
        body = _redact_people(body, subject_ids, redactions)
    doc["subject"]["as_recorded"] = _distinct(_people(body, subject_ids))
    doc.update(body)
    doc["disclosures"] = disclosures
    doc["counts"] = {
        "cases": len(holdings["cases"]),
        "events": len(holdings["events"]),
        "disclosures": len(disclosures),
        "care_assessments": len(holdings["care_assessments"]),
        "redactions": redactions[0],
    }
    return doc


def audit_record(export: dict[str, Any], identifier: IdKey, actor: str) -> dict[str, Any]:
    """The operator audit of one export: who made it, for which cases, and how much it held;
    the person appears only as the keyed pseudonym of the identifier asked for."""
    return {
        "audit_id": str(uuid.uuid4()),
        "action": "subject-access-export",
        "actor": actor,
        "at": datetime.now(UTC),
        "detail": {
            "identifier_type": identifier[0],
            "pseudonym": pseudonym(identifier[1]),
            "found": export["found"],
            "third_parties": export["third_parties"],
            "case_ids": sorted({e["case_id"] for e in export.get("events", []) if e.get("case_id")}),
            "counts": export.get("counts", {}),
        },
    }


def _disclosures(rows: list[dict[str, Any]], dispatches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Disclosures as the audit records them (who received which fields, when, on what lawful
    basis), each with how its delivery went where the hub pushes it."""
    pushed = {d["dispatch_id"]: d for d in dispatches}
    out = []
    for row in rows:
        recipient = f"{row['recipient']}:{row['organisation']}" if row.get("organisation") else row["recipient"]
        dispatch = pushed.get(row["delivery_id"])
        out.append(
            {
                "at": row["occurred_at"],
                "case_id": row["case_id"],
                "recipient": recipient,
                "event_type": row["event_type"],
                "fields": row["fields"],
                "lawful_basis": row.get("lawful_basis") or "not recorded: projected before the hub kept it",
                "delivery_id": row["delivery_id"],
                "source_event_id": row["source_event_id"],
                "delivery": None
                if dispatch is None
                else {k: dispatch.get(k) for k in ("channel", "status", "attempts", "delivered_at")},
            }
        )
    return out


def _is_person(doc: dict[str, Any]) -> bool:
    return any(doc.get(k) for k in PERSON_FIELDS)


def _redact_people(doc: Any, subject_ids: set[IdKey], redactions: list[int]) -> Any:
    if isinstance(doc, list):
        return [_redact_people(v, subject_ids, redactions) for v in doc]
    if not isinstance(doc, dict):
        return doc
    if _is_person(doc) and subject_ids.isdisjoint(identifiers_in(doc)):
        redactions[0] += 1
        return REDACTED
    out = {k: _redact_people(v, subject_ids, redactions) for k, v in doc.items()}
    if out.get("assessed_person") == REDACTED:  # an assessment of someone else: its findings are theirs
        for key in ABOUT_THE_PERSON_ASSESSED & out.keys():
            out[key] = REDACTED
            redactions[0] += 1
    return out


def _without_internal_keys(doc: Any) -> Any:
    if isinstance(doc, list):
        return [_without_internal_keys(v) for v in doc]
    if isinstance(doc, dict):
        return {k: _without_internal_keys(v) for k, v in doc.items() if k not in INTERNAL_KEYS}
    return doc


def _people(doc: Any, subject_ids: set[IdKey]) -> Iterable[dict[str, Any]]:
    if isinstance(doc, list):
        for v in doc:
            yield from _people(v, subject_ids)
    elif isinstance(doc, dict):
        if _is_person(doc) and not subject_ids.isdisjoint(identifiers_in(doc)):
            yield {k: v for k, v in doc.items() if v is not None}
        else:
            for v in doc.values():
                yield from _people(v, subject_ids)


def _distinct(people: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for person in people:
        seen.setdefault(repr(sorted(person.items(), key=lambda kv: kv[0])), person)
    return list(seen.values())
