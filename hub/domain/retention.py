"""When a person's records have run their retention schedules: pure, from the store's rows.

Each record the hub holds about a person (their EHC cases, the care assessments of them, their
transition to adult care, changes in their circumstances) has a kind, and each kind a rule: the
years it is kept from its start (a date of birth, the plan ceasing, the last activity). The person
is due for erasure once every one of their records is past its rule; until then nothing of theirs
is erased, since crypto-shredding erases a person, not a record. A start the hub cannot tell (a
plan still maintained) leaves the person not due. A date of birth the hub never had falls back to
the last activity, which keeps the records longer, never shorter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from hub.domain.clock import add_months
from hub.settings import RecordKind, RetentionRule


@dataclass(frozen=True)
class RecordDue:
    kind: RecordKind
    record: str
    la_code: str | None
    starts: date | None
    due: date | None  # None: not yet known (a plan still maintained)


@dataclass(frozen=True)
class PersonDue:
    records: tuple[RecordDue, ...]

    @property
    def due(self) -> date | None:
        """The day every record is past its schedule, or None while any is not known yet."""
        dues = [r.due for r in self.records]
        if not dues or any(d is None for d in dues):
            return None
        return max(d for d in dues if d is not None)

    def is_due(self, today: date) -> bool:
        due = self.due
        return due is not None and today >= due


Rules = Callable[[str | None], Mapping[RecordKind, RetentionRule]]


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def last_activity(events: list[Mapping[str, Any]]) -> dict[str, date]:
    """The day of the latest event filed under each record (its case, or its own key)."""
    latest: dict[str, date] = {}
    for e in events:
        day = _day(e.get("occurred_at"))
        for key in {e.get("case_id"), e.get("record_key")}:
            if key is not None and day is not None and (key not in latest or day > latest[key]):
                latest[key] = day
    return latest


def person_due(person_key: str, holdings: Mapping[str, Any], rules: Rules) -> PersonDue:
    """Each of the person's records with when it is due (``SubjectQueries.subject_holdings``)."""
    activity = last_activity(holdings.get("events", []))
    records: list[RecordDue] = []

    def due(kind: RecordKind, record: str, la_code: str | None, **starts: date | None) -> None:
        rule = rules(la_code)[kind]
        start = starts.get(rule.starts.replace("-", "_"))
        if rule.starts == "date-of-birth" and start is None:
            start = starts.get("last_activity")
        records.append(RecordDue(kind, record, la_code, start, add_months(start, 12 * rule.years) if start else None))

    for entry in holdings.get("cases", []):
        case = entry["case"]
        person = case.get("person") or {}
        due(
            "ehc-case",
            case["case_id"],
            case.get("la_code"),
            date_of_birth=_day(person.get("date_of_birth")),
            plan_ceased=_day(case.get("ceased_date")),
            last_activity=activity.get(case["case_id"]) or _day(case.get("received_date")),
        )
    own = [
        ("care-assessment", "care_assessments", "assessment_id", "completed_date"),
        ("circumstance-change", "circumstance_changes", "change_id", "change_date"),
        ("transition", "transition_determinations", "determination_id", "determined_date"),
        ("transition", "referrals", "referral_id", "issued_date"),
    ]
    for kind, table, key, own_date in own:
        for row in holdings.get(table, []):
            if table == "care_assessments" and row.get("assessed_key") != person_key:
                continue  # an assessment of their carer is the carer's record
            day = max(filter(None, (activity.get(row[key]), _day(row.get(own_date)))), default=None)
            due(kind, row[key], row.get("la_code"), last_activity=day)  # type: ignore[arg-type]
    return PersonDue(tuple(records))
