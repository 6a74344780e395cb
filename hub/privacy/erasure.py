"""Erasing a person: their data keys destroyed and the projection redacted, in one transaction,
with a line in the erasure log that holds no personal data.

What the keys sealed (every topic, retry tier, dead letter and backup of those) becomes unreadable
at once; the projection is redacted to what a rebuild would now make of it (``hub.store.erasure``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from hub.privacy.service import Privacy
from hub.store import Store
from hub.store.erasure import redact_person
from hub.store.subjects import record_keys

Ground = Literal["subject-request", "retention", "other"]
"""Why a person is erased: their request (UK GDPR Art. 17), their records' retention ran out, or
another ground the data protection officer records."""


class UnderLegalHold(Exception):
    """The person, or one of their cases, is under a legal hold: nothing of theirs is erased."""

    def __init__(self, holds: list[dict[str, Any]]) -> None:
        self.holds = holds
        super().__init__("under legal hold: " + "; ".join(f"{h['hold_id']} ({h['reason']})" for h in holds))


@dataclass(frozen=True)
class Erasure:
    erasure_id: str
    subject: str
    keys_destroyed: int
    rows_redacted: int
    records: int


def subject_pseudonym(privacy: Privacy, person_key: str) -> str:
    """How the erasure log names a person: stable, and no way back to who they were."""
    return privacy.sealer.index("erasure", person_key)


async def erase_person(
    store: Store,
    privacy: Privacy,
    person_key: str,
    *,
    actor: str,
    reason: Ground,
    holdings: dict[str, Any] | None = None,
) -> Erasure:
    """``holdings``: what ``store.subject_holdings`` found of the person, where the caller has it."""
    if holdings is None:
        holdings = await store.subject_holdings(person_key)
    keys = record_keys(holdings)
    kids = {privacy.sealer.index(r["id_type"], r["id_value"]) for r in holdings["identifiers"]}
    kids |= {privacy.sealer.record_kid(k) for k in keys}
    erasure_id, subject = str(uuid.uuid4()), subject_pseudonym(privacy, person_key)
    log = {"erasure_id": erasure_id, "at": datetime.now(UTC), "actor": actor, "reason": reason, "subject": subject}
    async with store.db.begin() as conn:
        holds = await store.holds_on(person_key, [e["case"]["case_id"] for e in holdings["cases"]], conn)
        if holds:
            raise UnderLegalHold(holds)
        destroyed = await privacy.keys.destroy(kids, conn)
        redacted = await redact_person(conn, person_key, holdings, {**log, "keys_destroyed": len(kids)})
    return Erasure(erasure_id, subject, destroyed, redacted, len(keys))


def erasure_audit(erasure: Erasure, id_type: str, actor: str, reason: Ground) -> dict[str, Any]:
    """The operator audit of an erasure: who, when, on what ground, and how much; the person
    appears only as the erasure log's pseudonym."""
    return {
        "audit_id": str(uuid.uuid4()),
        "action": "erasure",
        "actor": actor,
        "at": datetime.now(UTC),
        "detail": {
            "erasure_id": erasure.erasure_id,
            "identifier_type": id_type,
            "subject": erasure.subject,
            "reason": reason,
            "keys_destroyed": erasure.keys_destroyed,
            "rows_redacted": erasure.rows_redacted,
            "records": erasure.records,
        },
    }
