"""Transition to adult social care at 18 (Care Act ss58-66): the rules for the events that carry it.

A transition referral offers every Care Act assessment on record that could be treated as the
adult one (``hub.domain.planner`` builds it). The adult service's decision on each offer comes
back and is recorded; a rejection asks for exactly one new assessment, an acceptance closes the
loop. A carer who refused an assessment before is asked again only when circumstances changed
(s60(3)), which the planner has already judged when it offers the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from hub.domain.clocks import add_months
from hub.domain.facts import Outcome, ReferralOffers, ReferralProgress, RuleViolation
from hub.domain.ids import derived_id
from hub.domain.judging import Judging, judge
from hub.domain.state import (
    AssessmentDecision,
    CareAssessment,
    CircumstanceChange,
    Referral,
    TransitionDetermination,
)
from hub.settings import TransitionRules
from schemas.common import Agency, OrganisationRef, PersonRef
from schemas.events import (
    CareAssessmentRecorded,
    CareAssessmentRequested,
    ChangeOfCircumstancesRecorded,
    OfferedAssessment,
    ReuseRecommendation,
    TransitionNeedDetermined,
    TransitionReferralAcknowledged,
    TransitionReferralIssued,
    TransitionReferralUpdated,
    TreatAsAdultAssessmentDecision,
)

CARER_TYPES = ("s60-childs-carers", "s63-young-carers")


def eighteenth_birthday(dob: date) -> date:
    return add_months(dob, 18 * 12)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def recommend(
    completed: date, changes: Sequence[str], today: date, rules: TransitionRules
) -> tuple[ReuseRecommendation, str]:
    age = months_between(completed, today)
    if age > rules.reassess_after_months:
        return ReuseRecommendation.REASSESS, f"done {age} months ago (over {rules.reassess_after_months})"
    if changes:
        return ReuseRecommendation.REVIEW, f"circumstances changed since: {'; '.join(changes)}"
    if age > rules.reuse_max_age_months:
        return ReuseRecommendation.REVIEW, f"done {age} months ago (over {rules.reuse_max_age_months})"
    return ReuseRecommendation.REUSE, f"done {age} months ago, no change of circumstances recorded"


def first_day_over(completed: date, months: int) -> date:
    """The first day on which an assessment completed on ``completed`` is more than ``months`` old,
    as ``recommend`` counts months."""
    day = add_months(completed, months + 1)
    if months_between(completed, day) <= months:  # clamped to a shorter month's end: the next 1st
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return day


def recommendation_on(offer: OfferedAssessment, day: date) -> ReuseRecommendation:
    """The offer's recommendation as it stands on ``day``: an assessment offered as current may have
    aged past the local limits by the time the adult service decides."""
    if offer.reassess_from is not None and day >= offer.reassess_from:
        return ReuseRecommendation.REASSESS
    if offer.changes_since or (offer.review_from is not None and day >= offer.review_from):
        return ReuseRecommendation.REVIEW
    return ReuseRecommendation.REUSE


@judge.register
def _assessment_recorded(event: CareAssessmentRecorded, j: Judging, out: Outcome) -> None:
    out.assessments.append(
        CareAssessment(
            assessment_id=event.assessment_id,
            la_code=event.la_code,
            assessment_type=event.assessment_type.value,
            assessed_key=j.first_person(),
            assessed_person=event.assessed_person,
            cared_for_keys=tuple(k for k in j.person_keys[1:] if k),
            cared_for=tuple(event.cared_for),
            status=event.status,
            completed_date=event.completed_date,
            assessor=event.assessor,
            eligibility=event.eligibility_indication,
            material_change_flags=tuple(event.material_change_flags),
        )
    )


@judge.register
def _change_recorded(event: ChangeOfCircumstancesRecorded, j: Judging, out: Outcome) -> None:
    out.changes.append(CircumstanceChange(event.change_id, j.first_person(), event.change_date, event.description))


@judge.register
def _need_determined(event: TransitionNeedDetermined, j: Judging, out: Outcome) -> None:
    out.determinations.append(
        TransitionDetermination(
            determination_id=event.determination_id,
            la_code=event.la_code,
            person_key=j.first_person(),
            person=event.person,
            determined_date=event.determined_date,
            proceeds=event.proceeds(),
            childrens_services=tuple(event.childrens_services),
        )
    )


@judge.register
def _referral_issued(event: TransitionReferralIssued, j: Judging, out: Outcome) -> None:
    dob = event.person.date_of_birth
    if event.person.erased:
        pass  # checked when it was issued; the referral stands as recorded, without the person
    elif dob is None:
        raise RuleViolation(
            "a transition referral needs the young person's date of birth",
            field="data.person.date_of_birth",
            rule="dob-required",
        )
    elif eighteenth_birthday(dob) != event.eighteenth_birthday:
        raise RuleViolation(
            f"eighteenth_birthday {event.eighteenth_birthday} does not follow from the date of birth",
            field="data.eighteenth_birthday",
            rule="eighteenth-birthday",
        )
    out.referrals.append(
        Referral(
            referral_id=event.referral_id,
            person_key=j.first_person(),
            la_code=event.la_code,
            eighteenth_birthday=event.eighteenth_birthday,
            issued_date=event.issued_date or event.eighteenth_birthday,
            offered=tuple(event.offered_assessments),
        )
    )
    for offer in event.offered_assessments:
        if offer.status == "refused":  # s60(3): the duty revives when circumstances change
            out.emitted.append(
                _new_assessment(
                    event.referral_id,
                    event.la_code,
                    offer,
                    event.person,
                    "the carer refused before; circumstances have changed since",
                    event.issued_date or event.eighteenth_birthday,
                    event.eighteenth_birthday,
                )
            )


@judge.register
def _referral_updated(event: TransitionReferralUpdated, j: Judging, out: Outcome) -> None:
    referral = _referral(event.referral_id, j)
    before = {o.assessment_id for o in referral.offered}
    again = sorted(o.assessment_id for o in event.offered_assessments if o.assessment_id in before)
    if again:
        raise RuleViolation(
            f"assessments {again} were offered on referral {event.referral_id!r} already",
            field="data.offered_assessments",
            rule="offered-once",
        )
    out.referral_offers.append(ReferralOffers(event.referral_id, tuple(event.offered_assessments)))
    for offer in event.offered_assessments:
        if offer.status == "refused":  # s60(3), as on the referral itself
            young_person = offer.cared_for or PersonRef(la_person_id="unknown", la_code=event.la_code)
            reason = "the carer refused before; circumstances have changed since"
            out.emitted.append(
                _new_assessment(
                    event.referral_id,
                    event.la_code,
                    offer,
                    young_person,
                    reason,
                    event.updated_date,
                    referral.eighteenth_birthday,
                )
            )


@judge.register
def _acknowledged(event: TransitionReferralAcknowledged, j: Judging, out: Outcome) -> None:
    _referral(event.referral_id, j)
    out.referral_progress.append(
        ReferralProgress(
            event.referral_id,
            event.acknowledged_date,
            event.adult_case_id,
            event.support_in_place_date,
            event.no_eligible_needs_date,
        )
    )


@judge.register
def _treat_as_adult(event: TreatAsAdultAssessmentDecision, j: Judging, out: Outcome) -> None:
    referral = _referral(event.referral_id, j)
    if event.decision_date < referral.eighteenth_birthday:
        raise RuleViolation(
            f"a decision to treat an assessment as the adult one is made once the young person is 18 "
            f"(Care Act ss59, 61, 64): not before {referral.eighteenth_birthday}",
            field="data.decision_date",
            rule="treat-as-from-18",
        )
    offered = {o.assessment_id: o for o in referral.offered}
    if event.assessment_id not in offered:
        raise RuleViolation(
            f"assessment {event.assessment_id!r} was not offered in referral {event.referral_id!r}",
            field="data.assessment_id",
            rule="assessment-offered",
        )
    earlier = referral.decisions.get(event.assessment_id)
    if earlier and earlier.decision_event_id != j.event_id:
        raise RuleViolation(
            f"a decision on assessment {event.assessment_id!r} was already recorded",
            field="data.assessment_id",
            rule="single-decision",
        )
    offer = offered[event.assessment_id]
    adult = OrganisationRef(agency=Agency.ADULT_SOCIAL_CARE, code=referral.la_code)
    now = recommendation_on(offer, event.decision_date)
    if event.accepted and offer.recommendation == ReuseRecommendation.REUSE and now != ReuseRecommendation.REUSE:
        out.emitted.append(
            j.alert(
                "recommendation-aged",
                case_id=event.referral_id,
                kind="reuse-recommendation-changed",
                severity="warning",
                organisation=adult,
                message=f"assessment {event.assessment_id} was offered for reuse; on {event.decision_date}, when it "
                f"was accepted, the recommendation is {now.value} (completed {offer.completed_date})",
            )
        )
    other = offer.assessed_by_la
    if other is not None and other != referral.la_code:
        out.emitted.append(
            j.alert(
                "treat-as-other-authority",
                case_id=event.referral_id,
                kind="treat-as-by-another-authority",
                severity="data-quality",
                organisation=adult,
                message=f"assessment {event.assessment_id} was done by LA {other}: the decision to treat it as the "
                "adult one belongs to the authority that did it (Care Act ss59, 61, 64)",
            )
        )
    out.decisions.append(
        AssessmentDecision(
            referral_id=event.referral_id,
            assessment_id=event.assessment_id,
            accepted=event.accepted,
            reason=event.reason,
            decided_by=event.decided_by,
            decision_date=event.decision_date,
            decision_event_id=j.event_id,
        )
    )
    if not event.accepted:
        person = offer.assessed_person or PersonRef(la_person_id="unknown", la_code=referral.la_code)
        out.emitted.append(
            _new_assessment(
                event.referral_id,
                referral.la_code,
                offer,
                person,
                f"not treated as the adult assessment: {event.reason}",
                event.decision_date,
                referral.eighteenth_birthday,
            )
        )


def _referral(referral_id: str, j: Judging) -> Referral:
    if not isinstance(j.context, Referral):
        raise RuleViolation(
            f"no transition referral {referral_id!r} is known",
            field="data.referral_id",
            rule="known-referral",
            retryable=True,
        )
    return j.context


def assessment_type_on(offered: str, day: date, eighteenth: date) -> str:
    """The Care Act assessment that can be done on ``day``: the transition assessments (s58 for the
    young person, s60 for a parent carer, s63 for a young carer) before the young person is 18, the
    adult ones (s9 needs, s10 carer's) from then."""
    if day < eighteenth:
        return offered
    return "s10-carers" if offered in CARER_TYPES else "s9-needs"


def _new_assessment(
    referral_id: str,
    la_code: str,
    offer: OfferedAssessment,
    young_person: PersonRef,
    reason: str,
    day: date,
    eighteenth: date,
) -> CareAssessmentRequested:
    return CareAssessmentRequested(
        request_id=derived_id(f"{referral_id}:{offer.assessment_id}", "new-assessment"),
        referral_id=referral_id,
        la_code=la_code,
        assessment_type=assessment_type_on(offer.assessment_type.value, day, eighteenth),  # type: ignore[arg-type]
        person=offer.assessed_person or young_person,
        cared_for=offer.cared_for,
        replaces_assessment_id=offer.assessment_id,
        reason=reason,
    )
