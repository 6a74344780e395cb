"""One handler per event type: ``judge`` dispatches on the event's class.

A module that owns the rules for some events registers a handler for each with
``@judge.register``; an event type with no handler establishes nothing about its case (an alert,
a disclosure record). ``hub.domain.workflow.evaluate`` is the entry point that has them all
registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import singledispatch
from typing import Any

from hub.domain.facts import Outcome, RuleViolation
from hub.domain.ids import derived_id
from hub.domain.state import Case, Context
from hub.settings import StatutoryRules
from schemas.events import (
    AdviceSubmitted,
    AlertRaised,
    Event,
    PersonDetailsCorrected,
    TransitionReferralAcknowledged,
    TransitionReferralUpdated,
    TreatAsAdultAssessmentDecision,
)

REFERRAL_CONTEXT = "referral:"
PERSON_CONTEXT = "person:"


def case_of(event: Event) -> str | None:
    """What an event is judged against, and ordered by: its case, for the adult service's answers
    the referral they answer (prefixed ``referral:``), for a correction the person it corrects
    (``person:`` and the correction's id)."""
    if isinstance(event, TransitionReferralAcknowledged | TransitionReferralUpdated | TreatAsAdultAssessmentDecision):
        return REFERRAL_CONTEXT + event.referral_id
    if isinstance(event, PersonDetailsCorrected):
        return PERSON_CONTEXT + event.correction_id
    case_id = getattr(event, "case_id", None)
    return str(case_id) if case_id else None


@dataclass(frozen=True, slots=True)
class Judging:
    """What a handler judges an event against.

    ``person_keys`` are the identity keys of the people ``persons_in(event)`` names, in order."""

    context: Context | None
    rules: StatutoryRules
    event_id: str
    person_keys: Sequence[str | None] = ()

    def case(self, event: Event) -> Case:
        """The event's case, which must be known: its assessment request recorded."""
        if not isinstance(self.context, Case) or self.context.received_date is None:
            raise RuleViolation(
                f"case {getattr(event, 'case_id', '?')!r} is not known: no assessment request has been recorded",
                field="data.case_id",
                rule="known-case",
                retryable=True,
            )
        return self.context

    def first_person(self) -> str | None:
        return self.person_keys[0] if self.person_keys else None

    def alert(self, slug: str, **fields: Any) -> AlertRaised:
        """An alert this event raises, its id derived from the event's and ``slug``, so a
        redelivered event raises the same alert, never a second."""
        return AlertRaised(alert_id=derived_id(self.event_id, slug), **fields)


def once_keys(event: Event) -> list[tuple[str, str]]:
    """The facts ``event`` may record only once, each with the field that names it: one answer per
    advice request, one adult decision per offered assessment."""
    if isinstance(event, AdviceSubmitted):
        return [(f"advice-submission:{event.request_id}", "data.request_id")]
    if isinstance(event, TreatAsAdultAssessmentDecision):
        return [(f"treat-as:{event.referral_id}:{event.assessment_id}", "data.assessment_id")]
    return []


@singledispatch
def judge(event: Event, judging: Judging, out: Outcome) -> None:
    """Events with no rules of their own establish nothing about a case."""


def not_before(day: date, earliest: date, field_name: str, what: str, rule: str) -> None:
    if day < earliest:
        raise RuleViolation(f"{field_name} {day} is before {what} {earliest}", field=f"data.{field_name}", rule=rule)
