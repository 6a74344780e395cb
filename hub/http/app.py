"""The one ASGI app: ingress, operations, health, metrics, AsyncAPI.

Every route needs an authenticated caller except health, ``/fhir/metadata`` and the sign-in routes
(and, when configured, metrics and the API documents): the routers carry their permission checks,
and a test walks the OpenAPI document to prove no operation was left open."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware

from adapters import advice_inbox, imports, inbox
from adapters.access import permit
from adapters.adult_social_care import api as asc_api
from adapters.childrens_social_care import api as csc_api
from adapters.common import Unavailable
from adapters.education import api as education_api
from adapters.imports import ImportJobs
from adapters.nhs_fhir import api as fhir_api
from adapters.nhs_fhir.outcome import FhirProblem
from hub.auth.authenticator import HubAuthenticator
from hub.auth.pseudonyms import set_key
from hub.auth.ratelimit import RateLimiter
from hub.auth.registry import ClientRegistry
from hub.auth.tokens import TokenVerifier
from hub.dispatch.metrics import DispatchCollector
from hub.http import dashboard, errors, ingress, ops, privacy, signin
from hub.http.body_limit import BodyLimit, limits
from hub.http.hygiene import hygiene
from hub.http.state import HubState
from hub.ops.audit import record_operator_action
from hub.pipeline.publisher import EventPublisher
from hub.pipeline.submit import HubAdviceInbox
from hub.settings import AuthSettings

if TYPE_CHECKING:
    from hub.wiring import HubRuntime
from hub.pipeline.kafka_client import kafka_client_config

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body cannot be read"},
    401: {"description": "no valid credential; WWW-Authenticate says why"},
    403: {"description": "the caller's organisation or permissions do not allow this"},
    415: {"description": "the body's content type is not one this route takes"},
    429: {"description": "the caller's rate limit is spent; Retry-After says when to come back"},
    503: {"description": "the token issuer cannot be reached; Retry-After says when to try again"},
}


READINESS_TIMEOUT = 2.0  # seconds each dependency has to answer a readiness probe


def create_app(runtime: HubRuntime) -> FastAPI:
    """The app owns the runtime's lifecycle: it starts consuming when the server starts."""

    auth = runtime.settings.auth
    authenticator = build_authenticator(auth, runtime)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            app.state.import_jobs.close()
            await runtime.stop()
            if authenticator.verifier is not None:
                await authenticator.verifier.close()

    app = FastAPI(
        title="EHC integration hub",
        version="0.1.0",
        description="Carries EHC needs-assessment and Care Act transition events between councils and the NHS.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.authenticator = authenticator
    session_secret = auth.session_secret.get_secret_value() if auth.session_secret else secrets.token_urlsafe(32)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret,
        session_cookie="ehc_hub_session",
        max_age=auth.session_max_age_seconds,
        same_site="lax",
        https_only=auth.tls_cert_file is not None,
    )
    if auth.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=auth.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(
        BodyLimit,
        limit_for=limits(json_bytes=runtime.settings.max_body_bytes, fhir_bytes=runtime.settings.fhir_max_body_bytes),
    )
    app.middleware("http")(hygiene)
    signin.install(app, auth)
    app.state.hub = HubState(
        store=runtime.store,
        producer=runtime.producer,
        names=runtime.names,
        bootstrap_servers=runtime.bootstrap_servers,
        client_config=kafka_client_config(runtime.settings),
        rules=runtime.settings.rules,
        today=lambda: runtime.watcher.today(),
        asyncapi=runtime.asyncapi(),
        watcher=runtime.watcher,
        dispatch=runtime.dispatch_table,
        privacy=runtime.privacy,
        retention=runtime.settings.retention,
    )
    app.state.event_port = runtime.event_port
    app.state.advice_inbox = HubAdviceInbox(runtime.store, runtime.settings.rules)
    app.state.outbound_inbox = runtime.dispatch_table
    app.state.import_jobs = ImportJobs(runtime.settings.csv_max_bytes)
    app.state.today = lambda: runtime.watcher.today()  # read at call time: tests and replays move it
    app.add_exception_handler(RequestValidationError, errors.on_request_validation)
    app.add_exception_handler(StarletteHTTPException, errors.on_http_exception)
    app.add_exception_handler(FhirProblem, errors.on_fhir_problem)
    app.add_exception_handler(Unavailable, errors.on_unavailable)
    app.add_exception_handler(SQLAlchemyError, errors.on_store_error)
    for router in (
        ingress.router,
        imports.router,
        education_api.router,
        csc_api.router,
        advice_inbox.router,
        inbox.router,
        asc_api.router,
    ):
        app.include_router(router, responses=REFUSALS)
    app.include_router(fhir_api.router, responses=REFUSALS)
    app.include_router(signin.router)
    app.include_router(dashboard.router)
    asc_api.document_webhooks(app)
    app.include_router(ops.router, responses=REFUSALS)
    app.include_router(privacy.router, responses=REFUSALS)
    registry = CollectorRegistry()
    processed = Gauge("hub_events_processed", "events applied by this instance", registry=registry)
    dead = Gauge("hub_records_dead_lettered", "records dead-lettered by this instance", registry=registry)
    processed.set_function(lambda: runtime.core.processed)
    dead.set_function(lambda: runtime.core.dead_lettered)
    registry.register(DispatchCollector(runtime.dispatcher))

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        state: HubState = request.app.state.hub
        try:
            await asyncio.wait_for(state.store.ping(), READINESS_TIMEOUT)
        except Exception as exc:
            return JSONResponse(status_code=503, content={"status": "store unavailable", "error": type(exc).__name__})
        if not await runtime.producer.reachable(READINESS_TIMEOUT):
            return JSONResponse(status_code=503, content={"status": "event log (Kafka) unavailable"})
        if authenticator.verifier is not None and not await authenticator.verifier.ready():
            return JSONResponse(status_code=503, content={"status": "token issuer unavailable"})
        return JSONResponse({"status": "ready"})

    metrics_guard = [] if auth.public_metrics else [permit("ops:read")]
    docs_guard = [] if auth.public_docs else [permit("ops:read")]

    @app.get("/metrics", tags=["health"], dependencies=metrics_guard)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/asyncapi", tags=["docs"], dependencies=docs_guard)
    async def asyncapi(request: Request) -> Any:
        return request.app.state.hub.asyncapi.to_jsonable()

    @app.get("/openapi.json", tags=["docs"], dependencies=docs_guard, include_in_schema=False)
    async def openapi_document() -> JSONResponse:
        return JSONResponse(await described_openapi(app, authenticator))

    @app.get("/docs", tags=["docs"], dependencies=docs_guard, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="EHC integration hub")

    return app


def build_authenticator(auth: AuthSettings, runtime: HubRuntime) -> HubAuthenticator:
    if auth.pseudonym_key is not None:
        set_key(auth.pseudonym_key.get_secret_value())
    verifier = (
        TokenVerifier(
            auth.issuer,
            auth.audience,
            auth.algorithms,
            leeway_seconds=auth.leeway_seconds,
            min_refresh_seconds=auth.key_refresh_min_seconds,
        )
        if auth.issuer
        else None
    )

    publisher = EventPublisher(runtime.producer, runtime.names)

    async def audit(record: dict[str, Any]) -> None:
        """Reads of personal data go where redrives go: the operator audit topic, then the store."""
        await record_operator_action(publisher, runtime.store, record)

    limiter = RateLimiter(auth.rate_limit_per_minute, auth.rate_limit_burst, auth.max_rate_limited_clients)
    return HubAuthenticator(auth, ClientRegistry.from_settings(auth), verifier, audit, limiter)


async def described_openapi(app: FastAPI, authenticator: HubAuthenticator) -> dict[str, Any]:
    """The OpenAPI document, with the issuer's real endpoints in the security scheme."""
    doc = app.openapi()
    schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
    if authenticator.verifier is not None:
        try:
            meta = await authenticator.verifier.metadata()
        except Exception:
            return doc
        flows = schemes.get("oauth2", {}).get("flows", {})
        flows.get("clientCredentials", {})["tokenUrl"] = meta.token_endpoint
        if "authorizationCode" in flows and meta.authorization_endpoint:
            flows["authorizationCode"].update(
                authorizationUrl=meta.authorization_endpoint, tokenUrl=meta.token_endpoint
            )
        schemes["oidc"] = {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{meta.issuer}/.well-known/openid-configuration",
        }
    return doc
