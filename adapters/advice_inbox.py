"""Advice requests for recipients without an endpoint: they fetch their work, and the first fetch
counts as receipt (reg 8's six weeks run from the adviser's receipt of the request)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request

from adapters.access import Organisation, Reader, own_organisation, reads, refuse
from adapters.common import Submission
from adapters.http import Port, Today
from schemas.common import Agency
from schemas.events import AdviceRequested, AdviceRequestReceived


class AdviceInbox(Protocol):
    async def pending_for(self, recipient_code: str) -> list[dict[str, Any]]:
        """Advice requests addressed to one organisation and not yet answered, each with
        ``request`` (the AdviceRequested data), ``received_date`` and ``due_date`` (when the advice
        is due by the hub's clock, which the adviser's receipt and any exception move)."""
        ...

    async def requests_for(self, recipient_code: str) -> list[dict[str, Any]]:
        """Every advice request addressed to one organisation, answered or not."""
        ...

    async def request(self, request_id: str, due_date: bool = True) -> dict[str, Any] | None:
        """One advice request, answered or not, with its status, dates and submission. Its
        ``due_date`` is worked out from the case's clocks only if asked for: answering a request
        does not need it, and it costs more than the rest of the read."""
        ...

    async def first_accepted(self, event_id: str) -> datetime | None:
        """When the hub first accepted an event, so that the answer to a replayed message can be
        the first answer again, to the byte."""
        ...


def _advice_inbox(request: Request) -> AdviceInbox:
    inbox: AdviceInbox = request.app.state.advice_inbox
    return inbox


Inbox = Annotated[AdviceInbox, Depends(_advice_inbox)]
"""The hub's advice requests, as a route parameter."""

router = APIRouter(prefix="/api/v1", tags=["advice requests"])


def receipts(
    rows: list[dict[str, Any]], today: date, channel: str, sender: Organisation | None = None
) -> list[Submission]:
    """AdviceRequestReceived for each request fetched for the first time."""
    out = []
    for row in rows:
        if row.get("received_date") is not None or not row.get("request"):
            continue
        request = AdviceRequested.model_validate(row["request"])
        out.append(
            Submission(
                AdviceRequestReceived(
                    case_id=request.case_id,
                    request_id=request.request_id,
                    recipient=request.recipient,
                    received_date=today,
                    channel=channel,
                ),  # type: ignore[arg-type]
                source=f"/{request.recipient.agency.value}/{request.recipient.code}",
                event_id=f"receipt:{request.request_id}",
                sender=sender,
            )
        )
    return out


def readable_inboxes(org: Organisation) -> set[tuple[str, str]]:
    """Whose advice requests an organisation may fetch: its own, and an LA also its families'
    (parents' and young people's views reach the LA, which records them)."""
    own = {(org.agency.value, org.code)}
    if org.agency == Agency.LA_SEN and org.la_code:
        own.add((Agency.FAMILY.value, org.la_code))
    return own


@router.get("/advice-requests", summary="Fetch the advice requests addressed to the caller's organisation")
async def fetch_advice_requests(
    inbox: Inbox,
    port: Port,
    today: Today,
    recipient: str | None = Query(default=None, min_length=1, description="default: the caller's own code"),
    reader: Reader = reads("inbox:read"),
) -> Any:
    org = own_organisation(reader.caller)
    inboxes = readable_inboxes(org)
    code = recipient or org.code
    if code not in {c for _, c in inboxes}:
        raise refuse(f"the inbox of {code} is not {org.source}'s")
    rows = [r for r in await inbox.pending_for(code) if (r.get("recipient_agency"), code) in inboxes]
    fresh = receipts(rows, today, "poll", sender=org)
    if fresh:
        await port.submit_many(fresh)
    received = {s.event.request_id: s.event.received_date for s in fresh}  # type: ignore[attr-defined]
    return await reader.show(
        [
            {**row["request"], "received_date": row.get("received_date") or received.get(row["request_id"])}
            for row in rows
            if row.get("request")
        ]
    )
