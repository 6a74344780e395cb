"""Everything the store holds on one person, found through any of their identifiers: what a
subject access request (UK GDPR Art. 15) is answered from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, or_, select

from hub.store.database import Database, Row
from hub.store.tables import (
    advice_requests,
    alerts,
    appeals,
    assessment_decisions,
    care_assessments,
    case_exceptions,
    cases,
    circumstance_changes,
    dead_letters,
    deliveries,
    la_transfers,
    person_corrections,
    person_links,
    personal_budgets,
    phase_transfers,
    processed_events,
    referrals,
    reviews,
    transition_determinations,
)

CASE_TABLES = (
    advice_requests,
    reviews,
    appeals,
    la_transfers,
    personal_budgets,
    phase_transfers,
    case_exceptions,
    alerts,
    dead_letters,
)
"""Rows that belong to one case, listed under it in the order of their primary key."""


class SubjectQueries:
    db: Database

    async def person_key_for(self, id_type: str, id_value: str) -> str | None:
        """The person an identifier points at (see ``hub.domain.identity``), if any."""
        found = await self.db.rows(
            select(person_links.c.person_key).where(
                person_links.c.id_type == id_type, person_links.c.id_value == id_value
            )
        )
        return found[0]["person_key"] if found else None

    async def subject_holdings(self, person_key: str) -> dict[str, Any]:
        """Every row about the person: their identifiers, cases with everything recorded on them,
        care assessments of them or of their carers, their transition to adult care, and the events
        and disclosures of all of those. Rows name other people too (a carer); the export decides
        what of those the requester may see."""
        db = self.db
        holdings: dict[str, Any] = {
            "identifiers": await db.rows(
                select(person_links.c.id_type, person_links.c.id_value)
                .where(person_links.c.person_key == person_key)
                .order_by(person_links.c.id_type)
            ),
            "cases": [],
        }
        for case in await db.rows(select(cases).where(cases.c.person_key == person_key).order_by(cases.c.case_id)):
            entry: dict[str, Any] = {"case": case}
            for table in CASE_TABLES:
                entry[table.name] = await _rows_where(db, table, table.c.case_id == case["case_id"])
            holdings["cases"].append(entry)
        holdings["care_assessments"] = await _rows_where(
            db,
            care_assessments,
            or_(
                care_assessments.c.assessed_key == person_key,
                cast(care_assessments.c.cared_for_keys, String).contains(f'"{person_key}"'),
            ),
        )
        for table in (circumstance_changes, transition_determinations, referrals, person_corrections):
            holdings[table.name] = await _rows_where(db, table, table.c.person_key == person_key)
        referral_ids = [r["referral_id"] for r in holdings["referrals"]]
        holdings["assessment_decisions"] = await _rows_where(
            db, assessment_decisions, assessment_decisions.c.referral_id.in_(referral_ids)
        )
        keys = record_keys(holdings)
        holdings["events"] = await db.rows(
            select(processed_events)
            .where(or_(processed_events.c.record_key.in_(keys), processed_events.c.case_id.in_(keys)))
            .order_by(processed_events.c.occurred_at, processed_events.c.event_id)
        )
        holdings["disclosures"] = await db.rows(
            select(deliveries, processed_events.c.occurred_at)
            .join(processed_events, processed_events.c.event_id == deliveries.c.source_event_id, isouter=True)
            .where(deliveries.c.case_id.in_(keys))
            .order_by(processed_events.c.occurred_at, deliveries.c.delivery_id)
        )
        return holdings


def record_keys(holdings: dict[str, Any]) -> list[str]:
    """What the person's events are keyed by: their cases, and the transition records, care
    assessments and corrections that concern them, which travel under ids of their own when no
    case is named."""
    keys = [e["case"]["case_id"] for e in holdings["cases"]]
    keys += [a["assessment_id"] for a in holdings["care_assessments"]]
    keys += [c["change_id"] for c in holdings["circumstance_changes"]]
    keys += [d["determination_id"] for d in holdings["transition_determinations"]]
    keys += [r["referral_id"] for r in holdings["referrals"]]
    keys += [c["correction_id"] for c in holdings.get("person_corrections", [])]
    return sorted(set(keys))


async def _rows_where(db: Database, table: Any, condition: Any) -> list[Row]:
    """The table's rows meeting ``condition``, in the order of its primary key."""
    return await db.rows(select(table).where(condition).order_by(*table.primary_key.columns))
