"""Error bodies that name the field and the rule, so a sender can fix a record without guessing."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.common import Unavailable
from adapters.nhs_fhir.outcome import FhirProblem, Issue, fhir_response, operation_outcome, problem_response


def problem(status: int, message: str, *, field: str | None = None, rule: str | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": message, "field": field, "rule": rule},
    )


async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"] if p != "body")
    return problem(422, f"{field}: {err['msg']}", field=field, rule=err["type"])


FHIR_ISSUE_CODES = {401: "login", 403: "forbidden", 404: "not-found", 429: "throttled", 503: "transient"}


async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Refusals in the shape each API speaks: an OperationOutcome under /fhir, the hub's problem
    body elsewhere; the headers a refusal carries (WWW-Authenticate, Retry-After) are kept."""
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail)
    if request.url.path.startswith("/fhir/") or request.url.path == "/fhir":
        outcome = operation_outcome([Issue(FHIR_ISSUE_CODES.get(exc.status_code, "processing"), message)])
        response = fhir_response(outcome, exc.status_code, headers=dict(exc.headers or {}))
    else:
        rule = {401: "authentication", 403: "authorisation", 429: "rate-limit"}.get(exc.status_code)
        response = JSONResponse({"error": message, "field": None, "rule": rule}, exc.status_code, exc.headers)
    return response


async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After, in the shape each API speaks (an OperationOutcome ``transient`` under /fhir)."""
    assert isinstance(exc, Unavailable)
    http = StarletteHTTPException(503, exc.message, headers={"Retry-After": str(exc.retry_after)})
    return await on_http_exception(request, http)


async def on_store_error(request: Request, exc: Exception) -> JSONResponse:
    """A read the store could not answer (its database down or its disk full) is a 503, not a 500."""
    return await on_unavailable(request, Unavailable(f"the hub's store is unavailable: {type(exc).__name__}"))


async def on_fhir_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FhirProblem)
    return problem_response(exc)
