"""Error bodies that name the field and the rule, so a sender can fix a record without guessing."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from schemas.envelope import EventRejected


def problem(status: int, message: str, *, field: str | None = None, rule: str | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": message, "field": field, "rule": rule},
    )


async def on_event_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EventRejected)
    return problem(422, exc.reason, field=exc.field, rule=exc.rule)


async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"] if p != "body")
    return problem(422, f"{field}: {err['msg']}", field=field, rule=err["type"])
