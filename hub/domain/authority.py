"""Whether an organisation may submit an event for a case or referral the hub already knows.

The adapters refuse what a message claims against the caller's credential; this judges what only
the store knows: which council a case belongs to, which organisation an advice request was sent
to, which council a transition referral went to. Pure, so it is tested with plain data.
"""

from __future__ import annotations

from adapters.common import Sender
from hub.domain.state import Case, Context, PersonRecord, Referral
from schemas.common import Agency
from schemas.events import (
    AdviceRequestReceived,
    AdviceRequestStatusChanged,
    AdviceSubmitted,
    Event,
    TransitionReferralAcknowledged,
    TreatAsAdultAssessmentDecision,
)

REQUEST_BOUND = (AdviceSubmitted, AdviceRequestReceived, AdviceRequestStatusChanged)


def refusal(sender: Sender | None, event: Event, context: Context | None) -> str | None:
    """Why ``sender`` may not submit ``event`` given what the store knows, or ``None`` if it may."""
    if sender is None or context is None or isinstance(context, PersonRecord):
        return None  # a correction: the sender answers for the council it names, as for any event
    owner = context.owner if isinstance(context, Case) else context.la_code
    if isinstance(event, TransitionReferralAcknowledged | TreatAsAdultAssessmentDecision):
        if isinstance(context, Referral) and owner != sender.la_code:
            return f"referral {event.referral_id} went to LA {owner}, not to {_name(sender)}"
        return None
    if sender.la_code is not None and owner and owner != sender.la_code:
        return f"case {getattr(event, 'case_id', '?')} belongs to LA {owner}, not to {_name(sender)}"
    if isinstance(event, REQUEST_BOUND) and sender.agency != Agency.LA_SEN and isinstance(context, Case):
        request = context.advice.get(event.request_id)
        if request is not None and (
            request.recipient_agency != sender.agency.value or request.recipient_code != sender.code
        ):
            return f"advice request {event.request_id} was sent to {request.recipient_code}, not {sender.code}"
    return None


def _name(sender: Sender) -> str:
    return f"{sender.agency.value}/{sender.code}"
