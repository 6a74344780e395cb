"""Canonical transition events to the adult system's contract, and its answers back. Pure."""

from __future__ import annotations

from typing import Any

from adapters.adult_social_care.contract import (
    AdultReferralUpdate,
    AdultTransitionReferral,
    AssessmentReuseDecision,
    CareAssessmentRequestOut,
    CldPerson,
    OfferedAssessmentOut,
    ReferralAcknowledgement,
)
from schemas.common import PersonRef
from schemas.events import (
    CareAssessmentRequested,
    OfferedAssessment,
    TransitionReferralAcknowledged,
    TransitionReferralIssued,
    TransitionReferralUpdated,
    TreatAsAdultAssessmentDecision,
)

SECTION = {"s58-childs-needs": "s58", "s60-childs-carers": "s60", "s63-young-carers": "s63"}


def person_id(ref: PersonRef) -> str:
    """NHS number where known (the consistent identifier), else the LA's own id."""
    return (
        ref.nhs_number or f"{ref.la_code}:{ref.la_person_id}" if ref.la_person_id else (ref.nhs_number or ref.upn or "")
    )


def cld_person(ref: PersonRef, client_type: str, linked: PersonRef | None = None) -> CldPerson:
    return CldPerson(
        person_id=person_id(ref),
        nhs_number=ref.nhs_number,
        la_person_id=ref.la_person_id,
        given_name=ref.given_name,
        family_name=ref.family_name,
        date_of_birth=ref.date_of_birth,
        client_type=client_type,  # type: ignore[arg-type]
        linked_person_id=person_id(linked) if linked is not None else None,
    )


def offered_out(o: OfferedAssessment, young_person: PersonRef | None) -> OfferedAssessmentOut:
    """One offered assessment as the adult system takes it; a carer is linked to the person cared for."""
    assessed = o.assessed_person or young_person
    assert assessed is not None, "an offered assessment names whom it assessed, or is the young person's own"
    carer = o.client_type == "Carer"
    cared_for = o.cared_for or young_person
    return OfferedAssessmentOut(
        assessment_id=o.assessment_id,
        care_act_section=SECTION[o.assessment_type.value],  # type: ignore[arg-type]
        completed_date=o.completed_date,
        assessor=f"{o.assessor.name}, {o.assessor.role}",
        eligibility_indication=o.eligibility_indication,
        changes_since=o.changes_since,
        recommendation=o.recommendation.value,  # type: ignore[arg-type]
        recommendation_reason=o.recommendation_reason,
        assessed_person=cld_person(
            assessed,
            "Carer" if carer else "Service User",
            linked=cared_for if carer and assessed != cared_for else None,
        ),
    )


def _callbacks(callback_base: str, referral_id: str) -> str:
    return f"{callback_base}/api/v1/adult-social-care/referrals/{referral_id}"


def referral_out(event: TransitionReferralIssued, callback_base: str) -> AdultTransitionReferral:
    sections: dict[str, Any] = event.plan_sections.model_dump(exclude_none=True) if event.plan_sections else {}
    base = _callbacks(callback_base, event.referral_id)
    return AdultTransitionReferral(
        referral_id=event.referral_id,
        la_code=event.la_code,
        young_person=cld_person(event.person, "Service User"),
        eighteenth_birthday=event.eighteenth_birthday,
        reasons=event.reasons,
        ehc_plan_sections={k: v for k, v in sections.items() if v},
        plan_extract_ground=event.plan_extract_ground,
        offered_assessments=[offered_out(o, event.person) for o in event.offered_assessments],
        acknowledge_url=f"{base}/acknowledgement",
        decisions_url=f"{base}/decisions",
    )


def referral_update_out(event: TransitionReferralUpdated, callback_base: str) -> AdultReferralUpdate:
    return AdultReferralUpdate(
        referral_id=event.referral_id,
        la_code=event.la_code,
        updated_date=event.updated_date,
        offered_assessments=[offered_out(o, o.cared_for) for o in event.offered_assessments],
        decisions_url=f"{_callbacks(callback_base, event.referral_id)}/decisions",
    )


def assessment_request_out(event: CareAssessmentRequested) -> CareAssessmentRequestOut:
    carer = event.assessment_type in ("s10-carers", "s60-childs-carers", "s63-young-carers")
    return CareAssessmentRequestOut(
        request_id=event.request_id,
        referral_id=event.referral_id,
        la_code=event.la_code,
        care_act_section=event.assessment_type.split("-")[0],  # type: ignore[arg-type]
        person=cld_person(event.person, "Carer" if carer else "Service User", linked=event.cared_for),
        replaces_assessment_id=event.replaces_assessment_id,
        reason=event.reason,
    )


def acknowledgement_in(referral_id: str, body: ReferralAcknowledgement) -> TransitionReferralAcknowledged:
    return TransitionReferralAcknowledged(referral_id=referral_id, **body.model_dump())


def decision_in(referral_id: str, body: AssessmentReuseDecision) -> TreatAsAdultAssessmentDecision:
    return TreatAsAdultAssessmentDecision(referral_id=referral_id, **body.model_dump())
