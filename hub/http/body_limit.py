"""Request bodies are bounded while they stream in, before anything parses them.

A declared ``Content-Length`` over the limit is refused at once, unread; a chunked or understated
body is counted as it arrives and refused as soon as it passes the limit, so a 200 MB upload costs
the hub at most the limit in memory, never the whole body. Routes that stream their own body (CSV
imports, which spool to disk) are given ``None`` and enforce their own, larger bound.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.nhs_fhir.outcome import Issue, fhir_response, operation_outcome
from hub.http.errors import problem

LimitFor = Callable[[str], int | None]
"""The limit in bytes for a request path; None where the route bounds its own body."""


def limits(*, json_bytes: int, fhir_bytes: int) -> LimitFor:
    def limit_for(path: str) -> int | None:
        if path.startswith("/fhir/"):
            return fhir_bytes
        if "/imports/" in path:
            return None
        return json_bytes

    return limit_for


class BodyLimit:
    """ASGI middleware: buffer a request body up to its path's limit, or answer 413."""

    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limit_for(path)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await too_large(path, limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay(b"".join(chunks), message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(path, limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), None, receive), send)


def too_large(path: str, limit: int) -> Response:
    """The 413 in the shape each API speaks: an OperationOutcome under /fhir, a problem elsewhere."""
    message = f"the body exceeds {limit} bytes"
    if path.startswith("/fhir/"):
        return fhir_response(operation_outcome([Issue("too-long", message)]), 413)
    return problem(413, message, rule="max-size")


def _replay(body: bytes, ending: Message | None, receive: Receive) -> Receive:
    """A receive channel that gives the buffered body once, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if ending is not None:
                return ending
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
