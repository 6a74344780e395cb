"""What adult social care systems send back: acknowledgements and reuse decisions."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Header
from fastapi.responses import JSONResponse

from adapters.access import Caller, permit, refuse_foreign_claims
from adapters.adult_social_care.contract import (
    AdultReferralUpdate,
    AdultTransitionReferral,
    AssessmentReuseDecision,
    CareAssessmentRequestOut,
    ReferralAcknowledgement,
)
from adapters.adult_social_care.mapping import acknowledgement_in, decision_in
from adapters.common import Submission
from adapters.http import Port, answer, event_id_for

router = APIRouter(prefix="/api/v1/adult-social-care", tags=["adult social care"])


@router.post(
    "/referrals/{referral_id}/acknowledgement",
    status_code=202,
    summary="The adult service received the referral (and, later, that support is in place)",
)
async def acknowledge(
    referral_id: str,
    body: ReferralAcknowledgement,
    port: Port,
    idempotency_key: str | None = Header(default=None, description="resubmitting with the same key is safe"),
    caller: Caller = permit("submit:transition-referral-acknowledged"),
) -> JSONResponse:
    event = acknowledgement_in(referral_id, body)
    org = refuse_foreign_claims(caller, event)
    submission = Submission(event, org.source, event_id_for(org.source, idempotency_key, event), sender=org)
    [result] = await port.submit_many([submission])
    return answer(result)


@router.post(
    "/referrals/{referral_id}/decisions",
    status_code=202,
    summary="Whether a transition assessment is treated as the adult assessment, with the reason",
)
async def decide(
    referral_id: str,
    body: AssessmentReuseDecision,
    port: Port,
    idempotency_key: str | None = Header(default=None, description="resubmitting with the same key is safe"),
    caller: Caller = permit("submit:treat-as-adult-assessment-decision"),
) -> JSONResponse:
    event = decision_in(referral_id, body)
    org = refuse_foreign_claims(caller, event)
    key = f"{referral_id}:{idempotency_key}" if idempotency_key else None
    submission = Submission(event, org.source, event_id_for(org.source, key, event), sender=org)
    [result] = await port.submit_many([submission])
    return answer(result)


def document_webhooks(app: FastAPI) -> None:
    """Publish what the hub sends to adult systems in the OpenAPI document's ``webhooks``."""

    @app.webhooks.post("transition-referral")
    def transition_referral(body: AdultTransitionReferral) -> None:
        """Sent ahead of the 18th birthday; answer 2xx. Resent with the same referral_id until then."""

    @app.webhooks.post("transition-referral-update")
    def transition_referral_update(body: AdultReferralUpdate) -> None:
        """Sent when an assessment is recorded after the referral and before the case is settled;
        decide each offered assessment as those of the referral itself."""

    @app.webhooks.post("care-assessment-request")
    def care_assessment_request(body: CareAssessmentRequestOut) -> None:
        """Sent when an offered assessment was not treated as the adult one."""
