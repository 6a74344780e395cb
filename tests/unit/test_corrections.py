"""Who is told of a correction, and with what (hub.domain.corrections): only organisations that
were sent a detail that was wrong, each with no more of the person than it was sent."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from hub.domain.corrections import Notice, notices
from hub.domain.state import Disclosed
from schemas.events import PersonDetailsCorrected
from tests.helpers import person

REQUESTED = "uk.ehc-hub.assessment-requested.v1"
REFERRAL = "uk.ehc-hub.transition-referral-issued.v1"
SUBMITTED = "uk.ehc-hub.advice-submitted.v1"


def correction(*fields: str) -> PersonDetailsCorrected:
    return PersonDetailsCorrected(
        correction_id="FIX-1",
        la_code="202",
        person=person(1),
        corrected_fields=list(fields),  # type: ignore[arg-type]
        corrected_date=date(2026, 10, 1),
        reason="typo",
    )


DISCLOSED = (
    Disclosed("health-commissioner", "QMJ", REQUESTED, ("case_id", "la_code", "person", "received_date")),
    Disclosed("childrens-social-care", "202", REQUESTED, ("case_id", "la_code", "person", "received_date")),
    Disclosed("adult-social-care", "202", REFERRAL, ("*",)),
    Disclosed("la-sen", "202", SUBMITTED, ("*",)),  # advice carries no person
)


def test_only_those_sent_a_wrong_detail_are_told_with_what_they_had() -> None:
    assert notices(correction("given_name"), DISCLOSED) == [
        Notice(
            "adult-social-care",
            "202",
            (
                "person.given_name",
                "person.la_code",
                "person.la_person_id",
                "person.nhs_number",
                "person.uln",
                "person.upn",
            ),
        )
    ]


def test_a_date_of_birth_reaches_whoever_had_it_and_a_name_no_one_without_one() -> None:
    told = notices(correction("date_of_birth"), DISCLOSED)
    assert [n.agency for n in told] == ["adult-social-care"]
    assert notices(correction("family_name"), DISCLOSED[:2]) == [], "neither was sent a name"


def test_a_correction_must_give_the_corrected_values() -> None:
    with pytest.raises(ValidationError, match="corrected date_of_birth"):
        PersonDetailsCorrected.model_validate(
            {
                **correction("given_name").model_dump(),
                "person": {"nhs_number": "9434765919"},
                "corrected_fields": ["date_of_birth"],
            }
        )
