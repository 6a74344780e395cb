"""Real HTTP servers on loopback for tests: the hub's own app, and stand-ins for agency systems."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.devtools.kafka_local import free_port


@asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app on loopback (a free port unless one is given) for the duration of the block."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def kind_of(body: dict[str, Any]) -> str:
    if body.get("resourceType") == "Bundle":
        return str(body["entry"][0]["resource"]["eventCoding"]["code"])
    return str(body.get("type", "")).split(".")[2] if str(body.get("type", "")).count(".") >= 2 else ""


class AgencyEndpoint:
    """An agency system receiving webhooks: records every POST, can be made to fail for a while."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self.fail_status = 503
        self.paths: list[str] = []
        self.app = Starlette(routes=[Route("/{path:path}", self._inbox, methods=["POST"])])

    async def _inbox(self, request: Request) -> JSONResponse:
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": "unavailable"}, status_code=self.fail_status)
        self.headers.append(dict(request.headers))
        self.paths.append(request.url.path)
        self.raw.append(await request.body())
        self.received.append(await request.json())
        return JSONResponse({"ok": True})

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """What arrived of one kind: a CloudEvent type's event part (``advice-requested``), or a FHIR
        message's event code (``ehc-panel-outcome``)."""
        return [body for body in self.received if kind_of(body) == kind]

    def distinct(self) -> list[dict[str, Any]]:
        """What the agency's system keeps: one record per idempotency key."""
        seen: dict[str, dict[str, Any]] = {}
        for headers, body in zip(self.headers, self.received, strict=True):
            seen.setdefault(headers.get("idempotency-key", ""), body)
        return list(seen.values())
