"""What the hub sent of one person, and to whom, from the disclosure rows: what a correction of
their details is sent on by (``hub.domain.corrections``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, or_, select

from hub.domain.state import Disclosed
from hub.store.database import Database
from hub.store.tables import (
    care_assessments,
    cases,
    circumstance_changes,
    deliveries,
    referrals,
    transition_determinations,
)


async def disclosed_of(db: Database, person_key: str) -> tuple[Disclosed, ...]:
    """Every disclosure of a record the person is the subject of (filed under their cases, their
    transition records and the assessments of them), and of each transition referral that offered
    an assessment of them to the adult service (a carer in a young person's referral)."""
    subject: list[str] = []
    for key, column in (
        (cases.c.case_id, cases.c.person_key),
        (transition_determinations.c.determination_id, transition_determinations.c.person_key),
        (circumstance_changes.c.change_id, circumstance_changes.c.person_key),
        (referrals.c.referral_id, referrals.c.person_key),
        (care_assessments.c.assessment_id, care_assessments.c.assessed_key),
    ):
        subject += [r["key"] for r in await db.rows(select(key.label("key")).where(column == person_key))]
    assessments = select(care_assessments.c.assessment_id).where(care_assessments.c.assessed_key == person_key)
    offered_in: list[str] = []
    for a in await db.rows(assessments):
        found = select(referrals.c.referral_id).where(
            cast(referrals.c.offered, String).contains(f'"{a["assessment_id"]}"')
        )
        offered_in += [r["referral_id"] for r in await db.rows(found)]
    if not subject and not offered_in:
        return ()
    condition: Any = deliveries.c.case_id.in_(subject)
    if offered_in:
        condition = or_(condition, deliveries.c.source_event_id.in_(offered_in))
    rows = await db.rows(select(deliveries).where(condition).order_by(deliveries.c.delivery_id))
    as_carer = set(offered_in)
    return tuple(
        Disclosed(
            r["recipient"],
            r["organisation"],
            r["event_type"],
            ("*",) if r["source_event_id"] in as_carer else tuple(r["fields"]),
        )
        for r in rows
    )
