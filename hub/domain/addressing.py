"""Which organisation a disclosure goes to: the one the case names, never a whole kind of agency.

A school, trust or team reading its agency's outbound topic must see only its own children
(UK GDPR Art 5(1)(c), 5(1)(f)), and the disclosure audit must say which organisation received
which fields (Art 5(2)). So each share the policy allows is addressed to an organisation: the
one the event itself names for that agency (the school on a request, the advisers on a
decision), else the one the case's advice was asked of (for a school, the one the young person
attends, and before a recorded move also the next one), else, for the LA's own services, the LA,
and for health the LA's commissioning body (its integrated care board), which is responsible for
the health provision in a plan. A share with nobody to address is withheld, and the LA is told to
name the organisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from hub.domain.state import Case, Context, Referral
from schemas.common import LA_SERVICES, Agency, OrganisationRef
from schemas.events import AssessmentDecisionMade, AssessmentRequested, Event, PhaseTransferRecorded


@dataclass(frozen=True)
class Directory:
    """What the hub is told about organisations it cannot learn from events: each LA's health
    commissioner (its integrated care board), by LA code."""

    commissioners: Mapping[str, str] = field(default_factory=dict)


def withheld(agency: Agency, context: Context | None) -> bool:
    """Whether the parent or young person objected to (or the LA restricted) sharing with ``agency``."""
    return isinstance(context, Case) and agency.value in context.withheld_from


def addressee(
    agency: Agency, event: Event, context: Context | None, directory: Directory, on: date | None = None
) -> str | None:
    """The code of the organisation of ``agency`` that ``event`` (of the day ``on``) is disclosed
    to, or None if none is known."""
    for org in _named_in(event):
        if org.agency == agency:
            return org.code
    la_code = getattr(event, "la_code", None) or (context.la_code if isinstance(context, Case | Referral) else None)
    commissioner = directory.commissioners.get(la_code) if la_code else None
    if agency == Agency.HEALTH_COMMISSIONER:
        return commissioner
    if isinstance(context, Case):
        school = context.school_on(on or date.max)
        if agency == Agency.SCHOOL and school:
            return school
        asked = sorted(
            (r for r in context.advice.values() if r.recipient_agency == agency.value and not r.reused),
            key=lambda r: r.request_id,
        )
        if asked:
            return asked[0].recipient_code
    if agency in LA_SERVICES:
        return la_code
    if agency == Agency.NHS:  # no provider asked yet: the responsible commissioning body (CFA s42(3))
        return commissioner
    return None


def also_to(agency: Agency, event: Event, context: Context | None, on: date) -> list[str]:
    """Who receives a school's share as well as the school: the institutions a recorded move
    will take the young person to (reg 18), so the next school has the plan before the move,
    and the one a move being recorded now names."""
    if agency != Agency.SCHOOL:
        return []
    incoming = context.incoming_on(on) if isinstance(context, Case) else []
    if isinstance(event, PhaseTransferRecorded) and event.next_institution and event.transfer_date > on:
        incoming = sorted({*incoming, event.next_institution.code})
    return incoming


def _named_in(event: Event) -> list[OrganisationRef]:
    if isinstance(event, AssessmentRequested):
        return [event.school] if event.school is not None else []
    if isinstance(event, AssessmentDecisionMade):
        return [*event.advisers, *(named.organisation for named in event.advice_sources)]
    return []
