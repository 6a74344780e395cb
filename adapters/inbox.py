"""The general inbox, for organisations whose systems take no pushed deliveries: every record meant
for the caller's organisation waits here, in order, until the caller acknowledges it.

Reading is paged by cursor (each item's ``cursor``; pass the last one as ``after``), so a system
reads on from where it stopped without ever skipping a record that arrived meanwhile. Reading does
not remove anything: only an acknowledgement does, so a reader that crashes before storing what it
read gets it again. An advice request read here is received by the adviser (reg 8), as one fetched
from ``/api/v1/advice-requests`` is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from adapters.access import Organisation, Reader, own_organisation, reads
from adapters.advice_inbox import readable_inboxes
from adapters.channels import INBOX, Parcel, advice_receipts, recipient_of
from adapters.http import Port, Today
from schemas.common import LA_SERVICES, Agency


class OutboundInbox(Protocol):
    """Records waiting for organisations that pull (``hub.dispatch.table.DispatchTable`` is one)."""

    async def waiting_for(
        self, recipients: list[str], channel: str, after: int, limit: int, *, include_taken: bool = False
    ) -> list[dict[str, Any]]:
        """Rows in order after the cursor ``after``, each with its ``seq``, ``dispatch_id``,
        ``event_type``, ``status``, ``value`` and ``created_at`` (in UTC)."""
        ...

    async def acknowledge(self, recipients: list[str], dispatch_ids: list[str], at: datetime) -> int: ...

    async def taken(self, seqs: list[int], at: datetime) -> None:
        """Rows the recipient fetched by a search that has no acknowledgement (FHIR)."""
        ...

    async def opened_for(
        self, recipients: Sequence[str], agency: str, docs: Sequence[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], bool] | None]:
        """Each document opened for the organisation it was disclosed to, with whether a person in
        it was erased since; None where the hub never disclosed it to them."""
        ...


def _outbound_inbox(request: Request) -> OutboundInbox:
    inbox: OutboundInbox = request.app.state.outbound_inbox
    return inbox


Outbox = Annotated[OutboundInbox, Depends(_outbound_inbox)]
"""Records waiting for pulling organisations, as a route parameter."""

router = APIRouter(prefix="/api/v1", tags=["inbox"])


def addresses_of(org: Organisation) -> list[str]:
    """Whose records an organisation reads: its own; for a council's service also those addressed to
    that service of its council (the hub knows a case's council before it knows the team); and for
    the SEN team also its families' (parents' and young people's views reach the LA, which records
    them)."""
    own = [recipient_of(Agency(agency), code) for agency, code in sorted(readable_inboxes(org))]
    if org.agency in LA_SERVICES and org.la_code and org.la_code != org.code:
        own.append(recipient_of(org.agency, org.la_code))
    return own


class InboxItem(BaseModel):
    id: str = Field(description="the record's id; acknowledge it with this")
    cursor: int = Field(description="read on after this item with ?after=")
    received_at: datetime
    acknowledged: bool
    event: dict[str, Any] = Field(
        description="the CloudEvent, with only what the sharing policy lets this organisation see"
    )


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_after: int | None = Field(description="the cursor to read on from; null when nothing more waits now")


@router.get("/inbox", summary="Records waiting for the caller's organisation, oldest first", response_model=InboxPage)
async def read_inbox(
    inbox: Outbox,
    port: Port,
    today: Today,
    after: int = Query(default=0, ge=0, description="the cursor of the last item already read"),
    limit: int = Query(default=100, ge=1, le=1000),
    include_acknowledged: bool = False,
    reader: Reader = reads("inbox:read"),
) -> Any:
    org = own_organisation(reader.caller)
    rows = await inbox.waiting_for(addresses_of(org), INBOX, after, limit, include_taken=include_acknowledged)
    parcels = [Parcel(org.agency, org.code, r["value"]) for r in rows]
    fresh = [s for p in parcels for s in advice_receipts(p, today, "poll")]
    if fresh:
        await port.submit_many(fresh)
    items = [
        {
            "id": r["dispatch_id"],
            "cursor": r["seq"],
            "received_at": r["created_at"],
            "acknowledged": r["status"] != "pending",
            "event": json.loads(r["value"]),
        }
        for r in rows
    ]
    page = {"items": items, "next_after": rows[-1]["seq"] if len(rows) == limit else None}
    return await reader.show(page)


class Acknowledgement(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=1000, description="ids of items the caller has stored")


@router.post("/inbox/ack", summary="Acknowledge records the caller's system has stored")
async def acknowledge(body: Acknowledgement, inbox: Outbox, reader: Reader = reads("inbox:read")) -> dict[str, int]:
    """Only the caller's own records can be acknowledged; others' ids are ignored, not revealed."""
    org = own_organisation(reader.caller)
    done = await inbox.acknowledge(addresses_of(org), body.ids, datetime.now(UTC))
    return {"acknowledged": done}


class KafkaRecord(BaseModel):
    """A CloudEvent as read from the caller's ``out.<agency>.v1`` topic."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128)


class RecordsToOpen(BaseModel):
    records: list[KafkaRecord] = Field(min_length=1, max_length=100)


class OpenedRecord(BaseModel):
    id: str
    event: dict[str, Any] | None = Field(
        description="the CloudEvent with its sealed parts put back; null for a record the hub did not send "
        "to the caller's organisation"
    )
    erased: bool = Field(description="a person in it was erased since: their details stay sealed for good")


class OpenedRecords(BaseModel):
    records: list[OpenedRecord]


@router.post(
    "/inbox/open",
    summary="Open sealed records the caller's system read from its own Kafka topic",
    response_model=OpenedRecords,
)
async def open_records(body: RecordsToOpen, inbox: Outbox, reader: Reader = reads("inbox:read")) -> Any:
    """For a system that reads ``out.<agency>.v1`` itself: the hub seals personal details on every
    topic, and opens them here for the organisation each record was disclosed to, as the webhooks
    and this inbox do for theirs. Records disclosed to anyone else open to nothing."""
    org = own_organisation(reader.caller)
    docs = [r.model_dump() for r in body.records]
    opened = await inbox.opened_for(addresses_of(org), org.agency.value, docs)
    records = [
        {"id": d["id"], "event": o[0] if o else None, "erased": bool(o and o[1])}
        for d, o in zip(docs, opened, strict=True)
    ]
    return await reader.show({"records": records})
