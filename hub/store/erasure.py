"""Redacting a person from the projection, in the form a rebuild would now give it.

A rebuild after an erasure reads the person's events with their data keys destroyed, so it sees
them as the sealed records hold them: person references marked erased with only their LA code,
each text of free text reading ``[erased]``, and no identifiers to link. Redaction writes
exactly that, so the live store and a rebuilt one agree. Statutory dates, codes and ids stay: the
case still counts in returns and its clocks' history still reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, update

from hub.domain.identity import IdKey, replace_people
from hub.privacy.sealing import ERASED_TEXT, placeholder
from hub.store.database import Executes
from hub.store.tables import (
    advice_requests,
    assessment_decisions,
    care_assessments,
    cases,
    circumstance_changes,
    deliveries,
    erasures,
    person_corrections,
    person_links,
    referrals,
    transition_determinations,
)
from schemas.common import PersonRef


def erased_person(person: Mapping[str, Any]) -> dict[str, Any]:
    """A person reference as it reads once the person is erased."""
    return PersonRef(la_code=person.get("la_code"), erased=True).model_dump(mode="json", exclude_none=True)


def redact_people(value: Any, ids: set[IdKey]) -> Any:
    """``value`` with every person reference naming one of ``ids`` erased, at any depth."""
    return replace_people(value, ids, erased_person)


async def redact_person(conn: Executes, person_key: str, holdings: Mapping[str, Any], log: Mapping[str, Any]) -> int:
    """Redact what ``holdings`` (``SubjectQueries.subject_holdings``) found of the person, and write
    the erasure log row, in the caller's transaction. Returns the number of rows changed."""
    ids = {(r["id_type"], r["id_value"]) for r in holdings["identifiers"]}
    changed = 0

    async def write(statement: Any) -> None:
        nonlocal changed
        changed += (await conn.execute(statement)).rowcount or 0

    for entry in holdings["cases"]:
        case = entry["case"]
        values: dict[str, Any] = {"person_key": None, "person": erased_person(case["person"] or {})}
        if case["plan_sections"] is not None:
            values["plan_sections"] = placeholder(case["plan_sections"])
        await write(update(cases).where(cases.c.case_id == case["case_id"]).values(**values))
        for request in entry["advice_requests"]:
            values = {"request": redact_people(request["request"], ids)}
            if request["status_reason"] is not None:
                values["status_reason"] = ERASED_TEXT
            row = advice_requests.c.request_id == request["request_id"]
            await write(update(advice_requests).where(row).values(values))
    for a in holdings["care_assessments"]:
        values = {
            "assessed_person": redact_people(a["assessed_person"], ids),
            "cared_for": redact_people(a["cared_for"], ids),
            "cared_for_keys": [k for k in a["cared_for_keys"] if k != person_key],
        }
        if a["assessed_key"] == person_key:
            values["assessed_key"] = None
        await write(
            update(care_assessments).where(care_assessments.c.assessment_id == a["assessment_id"]).values(values)
        )
    for c in holdings["circumstance_changes"]:
        await write(
            update(circumstance_changes)
            .where(circumstance_changes.c.change_id == c["change_id"])
            .values(person_key=None, description=ERASED_TEXT)
        )
    for d in holdings["transition_determinations"]:
        await write(
            update(transition_determinations)
            .where(transition_determinations.c.determination_id == d["determination_id"])
            .values(person_key=None, person=erased_person(d["person"]))
        )
    for r in holdings["referrals"]:
        offered = [{**redact_people(o, ids), "recommendation_reason": ERASED_TEXT} for o in r["offered"]]
        await write(
            update(referrals)
            .where(referrals.c.referral_id == r["referral_id"])
            .values(person_key=None, offered=offered)
        )
    referral_ids = _ids(holdings["referrals"], "referral_id")
    if referral_ids:
        await write(
            update(assessment_decisions)
            .where(assessment_decisions.c.referral_id.in_(referral_ids))
            .values(reason=ERASED_TEXT)
        )
    corrections = _ids(holdings.get("person_corrections", []), "correction_id")
    if corrections:  # a rebuild cannot find an erased person to correct: what it would not make, goes
        await write(delete(deliveries).where(deliveries.c.case_id.in_(corrections)))
        await write(delete(person_corrections).where(person_corrections.c.correction_id.in_(corrections)))
    await write(delete(person_links).where(person_links.c.person_key == person_key))
    await conn.execute(insert(erasures), [{**log, "rows_redacted": changed}])
    return changed


def _ids(rows: Iterable[Mapping[str, Any]], column: str) -> list[str]:
    return [r[column] for r in rows]
