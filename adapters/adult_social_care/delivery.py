"""Delivering transition referrals, their updates and new assessment requests to the adult system over HTTP,
retrying with backoff for as long as it is down; the referral id is the idempotency key."""

from __future__ import annotations

import json
from collections.abc import Sequence

from adapters.adult_social_care.mapping import assessment_request_out, referral_out, referral_update_out
from adapters.webhooks import deliver_with_retries
from schemas.envelope import decode
from schemas.events import CareAssessmentRequested, TransitionReferralIssued, TransitionReferralUpdated


class AdultSocialCareDispatcher:
    def __init__(self, endpoints: dict[str, str], callback_base: str, delays: Sequence[float], timeout: float = 10.0):
        self.endpoints = endpoints
        self.callback_base = callback_base
        self.delays = delays
        self.timeout = timeout

    async def deliver(self, value: bytes | None) -> bool:
        envelope, event = decode(value)
        if isinstance(event, TransitionReferralIssued):
            body = referral_out(event, self.callback_base).model_dump_json()
        elif isinstance(event, TransitionReferralUpdated):
            body = referral_update_out(event, self.callback_base).model_dump_json()
        elif isinstance(event, CareAssessmentRequested):
            body = assessment_request_out(event).model_dump_json()
        else:
            return False
        url = self.endpoints.get(event.la_code)
        if url is None:
            return False
        headers = {
            "content-type": "application/json",
            "idempotency-key": envelope.id,
            "x-message-type": json.loads(body)["message_type"],
        }
        await deliver_with_retries(url, body.encode(), headers, self.delays, self.timeout)
        return True
