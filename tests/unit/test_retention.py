"""Retention schedules applied to a person's records (hub.domain.retention): when each record is
due, when the person is, and what the councils' own rules change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub.domain.retention import person_due
from hub.settings import RetentionRule, RetentionSettings


def holdings(dob: str | None = "2008-12-10", ceased: str | None = None) -> dict[str, Any]:
    person = {"nhs_number": "9990001510", **({"date_of_birth": dob} if dob else {})}
    return {
        "cases": [
            {"case": {"case_id": "C-1", "la_code": "202", "person": person, "ceased_date": ceased}},
        ],
        "care_assessments": [
            {"assessment_id": "A-1", "la_code": "202", "assessed_key": "pk", "completed_date": date(2026, 4, 15)},
            {"assessment_id": "A-2", "la_code": "202", "assessed_key": "carer", "completed_date": date(2026, 4, 1)},
        ],
        "circumstance_changes": [],
        "transition_determinations": [],
        "referrals": [
            {"referral_id": "R-1", "la_code": "202", "issued_date": date(2026, 9, 15)},
        ],
        "events": [
            {"case_id": "C-1", "record_key": "C-1", "occurred_at": datetime(2030, 7, 1, 9, tzinfo=UTC)},
            {"case_id": None, "record_key": "R-1", "occurred_at": datetime(2027, 1, 4, 9, tzinfo=UTC)},
        ],
    }


def test_each_record_runs_its_own_schedule_and_the_person_is_due_when_the_last_one_is() -> None:
    due = person_due("pk", holdings(), RetentionSettings().rules_for)
    by_record = {r.record: r.due for r in due.records}
    assert by_record == {
        "C-1": date(2039, 12, 10),  # date of birth + 31 years
        "A-1": date(2034, 4, 15),  # completed + 8 years
        "R-1": date(2035, 1, 4),  # last activity on the referral + 8 years
    }
    assert "A-2" not in by_record, "the assessment of their carer is the carer's record"
    assert due.due == date(2039, 12, 10)
    assert not due.is_due(date(2039, 12, 9)) and due.is_due(date(2039, 12, 10))


def test_without_a_date_of_birth_the_schedule_starts_at_the_last_activity() -> None:
    due = person_due("pk", holdings(dob=None), RetentionSettings().rules_for)
    assert {r.record: r.due for r in due.records}["C-1"] == date(2061, 7, 1)


def test_a_council_sets_its_own_rules_kind_by_kind() -> None:
    settings = RetentionSettings(
        schedules={"202": {"ehc-case": RetentionRule(starts="plan-ceased", years=6, basis="council policy")}}
    )
    assert person_due("pk", holdings(), settings.rules_for).due is None, "a plan still maintained is not due"
    ceased = person_due("pk", holdings(ceased="2033-08-31"), settings.rules_for)
    assert {r.record: r.due for r in ceased.records}["C-1"] == date(2039, 8, 31)
    assert settings.rules_for("208")["ehc-case"].years == 31, "other councils keep the default"


def test_a_person_with_no_records_is_never_due() -> None:
    assert person_due("pk", {}, RetentionSettings().rules_for).due is None
