"""HTTP plumbing shared by the adapters' REST ingress: one typed endpoint per event, the ids that
make a resend the same event, and answers that name the field and the rule. Transport only;
mapping lives in each adapter."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from adapters.access import Caller, permit, refuse_foreign_claims
from adapters.common import EventPort, Submission, SubmitResult
from schemas.events import Event

_IDEMPOTENCY = uuid.UUID("0f7b1c44-3c4e-4b8e-9e61-6f0d0d1a2b3c")


def _event_port(request: Request) -> EventPort:
    event_port: EventPort = request.app.state.event_port
    return event_port


def _today(request: Request) -> date:
    today: Callable[[], date] = request.app.state.today  # read per request: tests and replays move it
    return today()


SUBMISSION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "already accepted"},
    403: {
        "description": "the caller may not send this event, or it, its case or its request is another organisation's"
    },
    404: {"description": "unknown case or request"},
    409: {"description": "a second, different submission"},
    422: {"description": "invalid: field and rule named"},
}
"""How every endpoint that submits an event answers, besides 202."""

Port = Annotated[EventPort, Depends(_event_port)]
"""The hub's event port, as a route parameter."""
Today = Annotated[date, Depends(_today)]
"""Today's date as the hub's clock has it, as a route parameter."""


def event_id_for(source: str, idempotency_key: str | None, event: Event) -> str:
    """The same Idempotency-Key from the same source always names the same event; without one, the
    same content from the same source does, so a resend after a lost answer cannot make a second."""
    return _id_of(source, idempotency_key or f"{event.event_type}:{event.model_dump_json()}")


def document_id_for(source: str, idempotency_key: str | None, doc: Mapping[str, Any]) -> str:
    """The id of a CloudEvent sent without one: from the Idempotency-Key as ``event_id_for`` does,
    else from its content (less any ``time``, which a resend would give anew)."""
    if idempotency_key:
        return _id_of(source, idempotency_key)
    content = json.dumps({k: v for k, v in doc.items() if k != "time"}, sort_keys=True, separators=(",", ":"))
    return _id_of(source, f"cloudevent:{content}")


def _id_of(source: str, name: str) -> str:
    return str(uuid.uuid5(_IDEMPOTENCY, f"{source}:{name}"))


def row_id_for(kind: str, text: str) -> str:
    """A CSV row's event id, from its text: the same file imported twice names the same events."""
    return str(uuid.uuid5(_IDEMPOTENCY, f"csv:{kind}:{hashlib.sha256(text.encode()).hexdigest()}"))


def answer(result: SubmitResult) -> JSONResponse:
    body: dict[str, Any] = {"id": result.event_id, "outcome": result.outcome}
    if result.outcome == "rejected":
        body.update(error=result.message, field=result.field, rule=result.rule)
    return JSONResponse(status_code=result.status, content=body)


def add_event_endpoint(router: APIRouter, path: str, model: type[Event], summary: str) -> None:
    """POST ``path`` with the event's JSON: 202 once it is on Kafka, 200 if it was accepted before.

    The event's source is the caller's organisation; an event claiming another (its ``la_code``,
    its adviser) is refused with 403, as is one for a case or request of another organisation."""

    async def submit(
        body: model,  # type: ignore[valid-type]
        port: Port,
        idempotency_key: str | None = Header(default=None, description="resubmitting with the same key is safe"),
        caller: Caller = permit(f"submit:{model.event_type}"),
    ) -> JSONResponse:
        org = refuse_foreign_claims(caller, body)
        submission = Submission(body, org.source, event_id_for(org.source, idempotency_key, body), sender=org)
        [result] = await port.submit_many([submission])
        return answer(result)

    submit.__annotations__["body"] = model  # a real class, not the postponed string, so FastAPI reads the body
    router.add_api_route(
        path,
        submit,
        methods=["POST"],
        summary=summary,
        status_code=202,
        responses=SUBMISSION_RESPONSES,
    )
