"""HTTP plumbing shared by the adapters' REST ingress: one typed endpoint per event, CSV import,
and answers that name the field and the rule. Transport only; mapping lives in each adapter."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from adapters.access import Caller, own_organisation, permit, refuse_foreign_claims
from adapters.common import EventPort, Submission, SubmitResult
from adapters.csv_rows import RowMapper, map_rows
from schemas.events import Event

_IDEMPOTENCY = uuid.UUID("0f7b1c44-3c4e-4b8e-9e61-6f0d0d1a2b3c")
MAX_CSV_BYTES = 50 * 1024 * 1024


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
    if idempotency_key:
        return str(uuid.uuid5(_IDEMPOTENCY, f"{source}:{idempotency_key}"))
    return str(uuid.uuid5(_IDEMPOTENCY, f"{source}:{event.event_type}:{event.model_dump_json()}"))


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


def add_csv_endpoint(router: APIRouter, kinds: Mapping[str, RowMapper]) -> None:
    """POST /imports/{kind} with a CSV body: good rows are imported, bad ones reported by line.

    Each row is held to the same rules as the same event sent alone: a row for another council,
    or one the caller may not submit, is reported as refused and the rest go ahead."""

    async def import_csv(
        kind: str, request: Request, port: Port, caller: Caller = permit("import:csv")
    ) -> JSONResponse:
        mapper = kinds.get(kind)
        if mapper is None:
            return JSONResponse(status_code=404, content={"error": f"unknown import {kind!r}", "kinds": sorted(kinds)})
        raw = await request.body()
        if len(raw) > MAX_CSV_BYTES:
            return JSONResponse(status_code=413, content={"error": f"file exceeds {MAX_CSV_BYTES} bytes"})
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return JSONResponse(status_code=400, content={"error": "file is not UTF-8 text", "rule": "utf-8"})
        mapped, problems = map_rows(text, mapper)
        rows = len(mapped) + len(problems)
        report = [p.__dict__ for p in problems]
        org = own_organisation(caller)
        allowed = []
        for m in mapped:
            try:
                refuse_foreign_claims(caller, m.event)
            except HTTPException as exc:
                report.append({"line": m.line, "field": None, "rule": "sender-authority", "message": exc.detail})
                continue
            allowed.append(m)
        mapped = allowed
        lines = text.splitlines()
        submissions = [
            # A row's event id comes from its content: the same file imported twice names the same events.
            Submission(
                m.event,
                org.source,
                _row_id(kind, lines[m.line - 1] if m.line - 1 < len(lines) else str(m.line)),
                sender=org,
            )
            for m in mapped
        ]
        results = await port.submit_many(submissions) if submissions else []
        report += [
            {"line": m.line, "field": r.field, "rule": r.rule, "message": r.message}
            for m, r in zip(mapped, results, strict=True)
            if r.outcome == "rejected"
        ]
        report.sort(key=lambda p: p["line"])
        return JSONResponse(
            content={
                "kind": kind,
                "rows": rows,
                "imported": sum(r.outcome == "accepted" for r in results),
                "unchanged": sum(r.outcome == "unchanged" for r in results),
                "rejected": len(report),
                "problems": report,
            }
        )

    router.add_api_route(
        "/imports/{kind}",
        import_csv,
        methods=["POST"],
        summary="Import a CSV export",
        responses={
            200: {"description": "the report: rows imported, unchanged and refused, each problem by line"},
            404: {"description": "no such import; the body lists the kinds"},
            413: {"description": "the file is too large"},
        },
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )


def _row_id(kind: str, line_text: str) -> str:
    return str(uuid.uuid5(_IDEMPOTENCY, f"csv:{kind}:{hashlib.sha256(line_text.encode()).hexdigest()}"))
