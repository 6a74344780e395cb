"""HTTP plumbing shared by the adapters' REST ingress: one typed endpoint per event, CSV import,
and answers that name the field and the rule. Transport only; mapping lives in each adapter."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from adapters.common import EventPort, Submission, SubmitResult
from adapters.csv_rows import RowMapper, map_rows
from schemas.events import Event

_IDEMPOTENCY = uuid.UUID("0f7b1c44-3c4e-4b8e-9e61-6f0d0d1a2b3c")
MAX_CSV_BYTES = 50 * 1024 * 1024


def port(request: Request) -> EventPort:
    event_port: EventPort = request.app.state.event_port
    return event_port


def event_id_for(source: str, idempotency_key: str | None) -> str | None:
    """The same Idempotency-Key from the same source always names the same event."""
    return str(uuid.uuid5(_IDEMPOTENCY, f"{source}:{idempotency_key}")) if idempotency_key else None


def answer(result: SubmitResult) -> JSONResponse:
    body: dict[str, Any] = {"id": result.event_id, "outcome": result.outcome}
    if result.outcome == "rejected":
        body.update(error=result.message, field=result.field, rule=result.rule)
    return JSONResponse(status_code=result.status, content=body)


def adviser_source(event: Event) -> str:
    """Advice is sourced from the adviser's organisation."""
    adviser = getattr(event, "adviser", None)
    org = adviser.organisation if adviser is not None else None
    return f"/{org.agency.value}/{org.code}" if org is not None else "/adviser"


def add_event_endpoint(
    router: APIRouter, path: str, model: type[Event], source: Callable[[Event], str], summary: str
) -> None:
    """POST ``path`` with the event's JSON: 202 once it is on Kafka, 200 if it was accepted before."""

    async def submit(
        body: model,  # type: ignore[valid-type]
        request: Request,
        idempotency_key: str | None = Header(default=None, description="resubmitting with the same key is safe"),
    ) -> JSONResponse:
        src = source(body)
        [result] = await port(request).submit_many([Submission(body, src, event_id_for(src, idempotency_key))])
        return answer(result)

    submit.__annotations__["body"] = model  # a real class, not the postponed string, so FastAPI reads the body
    router.add_api_route(
        path,
        submit,
        methods=["POST"],
        summary=summary,
        status_code=202,
        responses={
            200: {"description": "already accepted"},
            404: {"description": "unknown case or request"},
            409: {"description": "duplicate submission"},
            422: {"description": "invalid: field and rule named"},
        },
    )


def add_csv_endpoint(router: APIRouter, kinds: Mapping[str, RowMapper], source: str) -> None:
    """POST /imports/{kind} with a CSV body: good rows are imported, bad ones reported by line."""

    async def import_csv(kind: str, request: Request) -> JSONResponse:
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
        lines = text.splitlines()
        submissions = [
            # A row's event id comes from its content: the same file imported twice names the same events.
            Submission(m.event, source, _row_id(kind, lines[m.line - 1] if m.line - 1 < len(lines) else str(m.line)))
            for m in mapped
        ]
        results = await port(request).submit_many(submissions) if submissions else []
        report = [p.__dict__ for p in problems]
        report += [
            {"line": m.line, "field": r.field, "rule": r.rule, "message": r.message}
            for m, r in zip(mapped, results, strict=True)
            if r.outcome == "rejected"
        ]
        report.sort(key=lambda p: p["line"])
        return JSONResponse(
            content={
                "kind": kind,
                "rows": len(mapped) + len(problems),
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
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )


def _row_id(kind: str, line_text: str) -> str:
    return str(uuid.uuid5(_IDEMPOTENCY, f"csv:{kind}:{hashlib.sha256(line_text.encode()).hexdigest()}"))
