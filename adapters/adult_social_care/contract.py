"""The JSON contract with adult social care systems, with codes lined up with the adult social care
Client Level Data (CLD) standard: route of access, client type, linked person ids.

Published in the hub's OpenAPI document (as webhooks for what the hub sends, and as paths for
what the adult system sends back)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class CldPerson(BaseModel):
    """A person as CLD identifies them: NHS number first (HSCA 2012 s251A), LA id alongside."""

    person_id: str = Field(description="the hub's stable person id")
    nhs_number: str | None = None
    la_person_id: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    client_type: Literal["Service User", "Carer"]
    linked_person_id: str | None = Field(default=None, description="CLD linked person id: the person cared for")


class OfferedAssessmentOut(BaseModel):
    assessment_id: str
    care_act_section: Literal["s58", "s60", "s63"]
    completed_date: date
    assessor: str
    eligibility_indication: str
    changes_since: list[str]
    recommendation: Literal["reuse", "review", "reassess"]
    recommendation_reason: str
    assessed_person: CldPerson


class AdultTransitionReferral(BaseModel):
    """What the hub POSTs to the adult system; resent with the same ``referral_id`` until a 2xx."""

    message_type: Literal["transition-referral"] = "transition-referral"
    referral_id: str
    la_code: str
    route_of_access: Literal["Planned Entry (Transition)"] = "Planned Entry (Transition)"
    young_person: CldPerson
    eighteenth_birthday: date
    reasons: list[str]
    ehc_plan_sections: dict[str, object] = Field(description="sections D, H1, H2, E and PfA outcomes only")
    plan_extract_ground: str | None = Field(default=None, description="the lawful ground for sharing the sections")
    offered_assessments: list[OfferedAssessmentOut]
    acknowledge_url: str = Field(description="POST a ReferralAcknowledgement here")
    decisions_url: str = Field(description="POST one AssessmentReuseDecision per offered assessment here")


class AdultReferralUpdate(BaseModel):
    """What the hub POSTs when assessments are recorded after a referral was issued: more offers on
    the same referral, each to be decided as the first ones were."""

    message_type: Literal["transition-referral-update"] = "transition-referral-update"
    referral_id: str
    la_code: str
    updated_date: date
    offered_assessments: list[OfferedAssessmentOut]
    decisions_url: str = Field(description="POST one AssessmentReuseDecision per offered assessment here")


class CareAssessmentRequestOut(BaseModel):
    """What the hub POSTs when an earlier assessment cannot be treated as the adult one."""

    message_type: Literal["care-assessment-request"] = "care-assessment-request"
    request_id: str
    referral_id: str
    la_code: str
    care_act_section: Literal["s9", "s10", "s58", "s60", "s63"]
    person: CldPerson
    replaces_assessment_id: str | None
    reason: str


class ReferralAcknowledgement(BaseModel):
    adult_case_id: str = Field(min_length=1)
    acknowledged_date: date
    support_in_place_date: date | None = None
    no_eligible_needs_date: date | None = Field(
        default=None, description="the adult service determined there are no eligible needs (ends s66 continuity)"
    )


class AssessmentReuseDecision(BaseModel):
    """The adult service's decision to treat a transition assessment as its own (ss59, 61, 64)."""

    assessment_id: str
    accepted: bool
    reason: str = Field(min_length=1)
    decided_by: str = Field(min_length=1)
    decision_date: date
