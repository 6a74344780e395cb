"""The one ASGI app: ingress, operations, health, metrics, AsyncAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from adapters import advice_inbox
from adapters.adult_social_care import api as asc_api
from adapters.childrens_social_care import api as csc_api
from adapters.education import api as education_api
from adapters.nhs_fhir import api as fhir_api
from hub.http import dashboard, errors, ingress, ops
from hub.http.state import HubState
from hub.runtime import HubRuntime, kafka_client_config
from hub.submit import HubAdviceInbox


def create_app(runtime: HubRuntime) -> FastAPI:
    """The app owns the runtime's lifecycle: it starts consuming when the server starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="EHC integration hub",
        version="0.1.0",
        description="Carries EHC needs-assessment and Care Act transition events between councils and the NHS.",
        lifespan=lifespan,
    )
    app.state.hub = HubState(
        store=runtime.store,
        producer=runtime.producer,
        names=runtime.names,
        bootstrap_servers=runtime.bootstrap_servers,
        client_config=kafka_client_config(runtime.settings),
        rules=runtime.settings.rules,
        today=lambda: runtime.watcher.today(),
        asyncapi=runtime.asyncapi(),
    )
    app.state.event_port = runtime.event_port
    app.state.watcher = runtime.watcher
    app.state.advice_inbox = HubAdviceInbox(runtime.store)
    app.state.today = lambda: runtime.watcher.today()  # read at call time: tests and replays move it
    app.add_exception_handler(RequestValidationError, errors.on_request_validation)
    app.include_router(ingress.router)
    app.include_router(education_api.router)
    app.include_router(csc_api.router)
    app.include_router(advice_inbox.router)
    app.include_router(asc_api.router)
    app.include_router(fhir_api.router)
    app.state.fhir_max_body_bytes = runtime.settings.fhir_max_body_bytes
    app.state.dashboard_tokens = runtime.settings.dashboard_tokens
    app.include_router(dashboard.router)
    asc_api.document_webhooks(app)
    app.include_router(ops.router)
    registry = CollectorRegistry()
    processed = Gauge("hub_events_processed", "events applied by this instance", registry=registry)
    dead = Gauge("hub_records_dead_lettered", "records dead-lettered by this instance", registry=registry)
    processed.set_function(lambda: runtime.core.processed)
    dead.set_function(lambda: runtime.core.dead_lettered)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        state: HubState = request.app.state.hub
        try:
            await state.store.counts()
        except Exception as exc:
            return JSONResponse(status_code=503, content={"status": "store unavailable", "error": type(exc).__name__})
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", tags=["docs"])
    async def asyncapi(request: Request) -> Any:
        return request.app.state.hub.asyncapi.to_jsonable()

    return app
