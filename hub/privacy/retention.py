"""The retention sweep: apply the schedules to every person the store links, and erase those
whose records have all run their course, unless a legal hold stops it. Each erasure goes in the
erasure log with the ground ``retention`` and on the operator audit topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.auth.pseudonyms import pseudonym
from hub.domain.retention import person_due
from hub.logging import get_logger
from hub.privacy.erasure import UnderLegalHold, erase_person, erasure_audit, subject_pseudonym
from hub.privacy.service import Privacy
from hub.settings import RetentionSettings
from hub.store import Store

log = get_logger("hub.privacy.retention")

PAGE = 500
ACTOR = "retention schedule"


@dataclass
class RetentionReport:
    today: date
    people: int = 0
    due: list[dict[str, Any]] = field(default_factory=list)  # pseudonym, due date, records, held
    erased: int = 0
    held: int = 0


Audit = Callable[[dict[str, Any]], Awaitable[None]]


async def retention_sweep(
    store: Store,
    privacy: Privacy | None,
    settings: RetentionSettings,
    today: date,
    *,
    erase: bool,
    audit: Audit | None = None,
    limit: int | None = None,
) -> RetentionReport:
    """Who is due today and, with ``erase`` (and sealing on), erase them. ``limit`` stops after
    that many people are found due, for a report."""
    report = RetentionReport(today)
    after: str | None = None
    while limit is None or len(report.due) < limit:
        page = await store.person_keys_after(after, PAGE)
        if not page:
            break
        after = page[-1]
        for person_key in page:
            report.people += 1
            holdings = await store.subject_holdings(person_key)
            due = person_due(person_key, holdings, settings.rules_for)
            if not due.is_due(today):
                continue
            holds = await store.holds_on(person_key, [e["case"]["case_id"] for e in holdings["cases"]])
            report.held += bool(holds)
            report.due.append(
                {
                    "subject": subject_pseudonym(privacy, person_key) if privacy else pseudonym(person_key),
                    "due": due.due,
                    "records": [{"kind": r.kind, "record": r.record, "due": r.due} for r in due.records],
                    "held": [h["hold_id"] for h in holds],
                }
            )
            if erase and privacy is not None and not holds:
                try:
                    erasure = await erase_person(
                        store, privacy, person_key, actor=ACTOR, reason="retention", holdings=holdings
                    )
                except UnderLegalHold:
                    report.held += 1
                    continue
                report.erased += 1
                if audit is not None:
                    await audit(erasure_audit(erasure, "person_key", ACTOR, "retention"))
    if report.erased or report.held:
        log.info("retention sweep", erased=report.erased, held=report.held, due=len(report.due))
    return report
