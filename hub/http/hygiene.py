"""What every HTTP answer shares: declared content types on writes, and security headers.

A write must say what it carries. A browser can send ``text/plain`` (or a form) cross-site without
asking first, so refusing anything but the route's own types with 415 closes that door before any
handler runs; a JSON body can only arrive from another site after a CORS preflight, which the hub
answers only for configured origins.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.responses import Response

from adapters.nhs_fhir.outcome import Issue, fhir_response, operation_outcome
from hub.http.errors import problem

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = ("application/json",)
CLOUDEVENTS = ("application/json", "application/cloudevents+json")
FHIR = ("application/fhir+json", "application/json")
FHIR_PATCH = ("application/json-patch+json",)
CSV = ("text/csv",)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
NO_STORE_PREFIXES = ("/api/", "/ops/", "/fhir/", "/auth/")


def accepted_types(method: str, path: str) -> tuple[str, ...]:
    if path.startswith("/fhir/"):
        return FHIR_PATCH if method == "PATCH" else FHIR
    if "/imports/" in path:
        return CSV
    if path == "/api/v1/events":
        return CLOUDEVENTS
    return JSON


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(request.headers.get("transfer-encoding")) or (length is not None and length.strip() not in ("", "0"))


FHIR_SERVED = frozenset({"application/fhir+json", "application/json", "application/*", "*/*"})
FHIR_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})


def unacceptable_fhir(request: Request) -> str | None:
    """Why a FHIR request asks for a format the hub does not serve (``_format`` or ``Accept``), if it does:
    the facade speaks FHIR JSON only, and says so with 406 rather than answering in a format not asked for."""
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt.split(";", 1)[0].strip().lower() not in FHIR_FORMATS:
        return f"_format {fmt!r} is not served here; use json"
    accept = request.headers.get("accept", "").strip()
    if accept and not any(r.split(";", 1)[0].strip().lower() in FHIR_SERVED for r in accept.split(",")):
        return f"Accept {accept!r} names no format served here; accept application/fhir+json"
    return None


async def hygiene(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse undeclared write bodies with 415 and FHIR formats not served with 406, then add the
    security headers to whatever answers."""
    unacceptable = unacceptable_fhir(request) if request.url.path.startswith("/fhir") else None
    if unacceptable is not None:
        response: Response = fhir_response(operation_outcome([Issue("not-supported", unacceptable)]), 406)
    elif request.method in WRITE_METHODS and _has_body(request):
        declared = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        allowed = accepted_types(request.method, request.url.path)
        if declared not in allowed:
            response = _unsupported(request.url.path, declared, allowed)
        else:
            response = await call_next(request)
    else:
        response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith(NO_STORE_PREFIXES) or request.url.path == "/":
        response.headers["cache-control"] = "no-store"
    if request.url.scheme == "https":
        response.headers.setdefault("strict-transport-security", "max-age=31536000")
    return response


def _unsupported(path: str, declared: str, allowed: tuple[str, ...]) -> Response:
    message = f"content type {declared or '(none)'} is not accepted here; send {' or '.join(allowed)}"
    if path.startswith("/fhir/"):
        return fhir_response(operation_outcome([Issue("not-supported", message)]), 415)
    return problem(415, message, rule="content-type")
