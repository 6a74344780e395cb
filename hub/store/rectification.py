"""Correcting a person's details wherever the projection holds them (UK GDPR Art. 16): every
person reference that carries one of their identifiers, in every table that keeps people."""

from __future__ import annotations

from sqlalchemy import String, cast, or_, select, update

from hub.domain.facts import PersonCorrection
from hub.domain.identity import replace_people
from hub.store.database import Executes
from hub.store.tables import advice_requests, care_assessments, cases, referrals, transition_determinations

PEOPLE_COLUMNS = (
    (cases.c.case_id, cases.c.person),
    (transition_determinations.c.determination_id, transition_determinations.c.person),
    (care_assessments.c.assessment_id, care_assessments.c.assessed_person),
    (care_assessments.c.assessment_id, care_assessments.c.cared_for),
    (referrals.c.referral_id, referrals.c.offered),
    (advice_requests.c.request_id, advice_requests.c.request),
)
"""(key, column) of every JSON column that holds person references, at any depth."""


async def correct_person(conn: Executes, correction: PersonCorrection) -> int:
    """Apply one correction in the caller's transaction; returns the rows changed."""
    ids = set(correction.identifiers)
    changed = 0
    for key, column in PEOPLE_COLUMNS:
        mentions = or_(*(cast(column, String).contains(f'"{value}"') for _, value in ids))
        for found in list(await conn.execute(select(key, column).where(mentions))):
            after = replace_people(found[1], ids, lambda person: {**person, **correction.values})
            if after != found[1]:
                await conn.execute(update(column.table).where(key == found[0]).values({column.name: after}))
                changed += 1
    return changed
