"""Advice requests for recipients without an endpoint: they fetch their work, and the first fetch
counts as receipt (reg 8's six weeks run from the adviser's receipt of the request)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from fastapi import APIRouter, Query, Request

from adapters.common import Submission
from adapters.http import port
from schemas.events import AdviceRequested, AdviceRequestReceived


class AdviceInbox(Protocol):
    async def pending_for(self, recipient_code: str) -> list[dict[str, Any]]:
        """Advice requests addressed to one organisation and not yet answered, each with
        ``request`` (the AdviceRequested data) and ``received_date``."""
        ...

    async def requests_for(self, recipient_code: str) -> list[dict[str, Any]]:
        """Every advice request addressed to one organisation, answered or not."""
        ...

    async def request(self, request_id: str) -> dict[str, Any] | None:
        """One advice request, answered or not, with its status, dates and submission."""
        ...


router = APIRouter(prefix="/api/v1", tags=["advice requests"])


def receipts(rows: list[dict[str, Any]], today: date, channel: str) -> list[Submission]:
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
            )
        )
    return out


@router.get("/advice-requests", summary="Fetch the advice requests addressed to one organisation")
async def fetch_advice_requests(request: Request, recipient: str = Query(min_length=1)) -> list[dict[str, Any]]:
    inbox: AdviceInbox = request.app.state.advice_inbox
    today: Callable[[], date] = request.app.state.today
    rows = await inbox.pending_for(recipient)
    fresh = receipts(rows, today(), "poll")
    if fresh:
        await port(request).submit_many(fresh)
    received = {s.event.request_id: s.event.received_date for s in fresh}  # type: ignore[attr-defined]
    return [
        {**row["request"], "received_date": row.get("received_date") or received.get(row["request_id"])}
        for row in rows
        if row.get("request")
    ]
