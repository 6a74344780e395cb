"""Transition referrals, their updates and new assessment requests as the adult system takes them
(its own message types, with a callback for its decisions); the referral id is the idempotency key."""

from __future__ import annotations

from datetime import date

from adapters.adult_social_care.contract import AdultReferralUpdate, AdultTransitionReferral, CareAssessmentRequestOut
from adapters.adult_social_care.mapping import assessment_request_out, referral_out, referral_update_out
from adapters.channels import HttpDelivery, Parcel
from adapters.common import Submission
from schemas.common import Agency
from schemas.envelope import decode
from schemas.events import CareAssessmentRequested, TransitionReferralIssued, TransitionReferralUpdated

MAPPED = {e.event_type for e in (TransitionReferralIssued, TransitionReferralUpdated, CareAssessmentRequested)}


class AdultSocialCareChannel:
    name = "adult-social-care"

    def __init__(self, endpoints: dict[str, str], callback_base: str) -> None:
        self.endpoints = endpoints
        self.callback_base = callback_base

    def serves(self, agency: Agency, org_code: str, event_type: str) -> bool:
        return agency == Agency.ADULT_SOCIAL_CARE and org_code in self.endpoints and event_type in MAPPED

    def request(self, parcel: Parcel, today: date) -> HttpDelivery:
        _, event = decode(parcel.body)
        message: AdultTransitionReferral | AdultReferralUpdate | CareAssessmentRequestOut
        if isinstance(event, TransitionReferralIssued):
            message = referral_out(event, self.callback_base)
        elif isinstance(event, TransitionReferralUpdated):
            message = referral_update_out(event, self.callback_base)
        elif isinstance(event, CareAssessmentRequested):
            message = assessment_request_out(event)
        else:  # serves() admits only the three
            raise TypeError(f"the adult system takes no {type(event).__name__}")
        headers = {
            "content-type": "application/json",
            "idempotency-key": parcel.dispatch_id,
            "x-message-type": message.message_type,
        }
        return HttpDelivery(self.endpoints[parcel.org_code], message.model_dump_json().encode(), headers)

    def delivered(self, parcel: Parcel, today: date) -> list[Submission]:
        return []
