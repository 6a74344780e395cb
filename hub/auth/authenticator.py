"""The hub's Authenticator: bearer tokens for systems and people, signed session cookies for people
in the dashboard, and an audit record for every read of unmasked personal data."""

from __future__ import annotations

import hashlib
import secrets
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request

from adapters.access import PERSONAL_DATA, Caller
from hub.auth.masking import case_ids_in, holds_personal_data, mask
from hub.auth.ratelimit import RateLimiter
from hub.auth.registry import ClientRegistry, client_id_of, person
from hub.auth.tokens import InvalidToken, IssuerUnavailable, TokenVerifier
from hub.logging import get_logger
from hub.settings import AuthSettings

log = get_logger("hub.auth")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CALLER_KEY, CSRF_KEY = "caller", "csrf"  # in the signed session cookie
AuditSink = Callable[[dict[str, Any]], Awaitable[None]]


def unauthorised(message: str, error: str = "invalid_token") -> HTTPException:
    challenge = f'Bearer realm="ehc-hub", error="{error}", error_description="{message}"'
    if error == "":
        challenge = 'Bearer realm="ehc-hub"'
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


class HubAuthenticator:
    def __init__(
        self,
        auth: AuthSettings,
        registry: ClientRegistry,
        verifier: TokenVerifier | None,
        audit: AuditSink,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.auth = auth
        self.limiter = limiter
        self.registry = registry
        self.verifier = verifier
        self._audit = audit

    async def authenticate(self, request: Request) -> Caller:
        caller = await self._identify(request)
        if self.limiter is not None:
            self.limiter.check(caller.client_id if caller.kind == "system" else f"person {caller.subject}")
        return caller

    async def _identify(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorised(
                    "use an OAuth 2.0 bearer access token (Authorization: Bearer ...)", "invalid_request"
                )
            return await self.from_token(token.strip(), via="bearer")
        session = request.scope.get("session") or {}
        signed_in = session.get(CALLER_KEY)
        if signed_in:
            return self._from_session(request, session, signed_in)
        chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
        if chain:
            return self._from_certificate(chain[0])
        raise unauthorised(
            "authentication is required: an OAuth 2.0 bearer access token, or sign in at /auth/login", ""
        )

    def _from_certificate(self, pem: str) -> Caller:
        """A client certificate the TLS handshake verified against the configured CA, registered
        by its fingerprint to one client."""
        fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
        client_id = self.auth.mtls_clients.get(fingerprint)
        caller = self.registry.system(client_id, f"certificate {fingerprint}", "mtls") if client_id else None
        if caller is None:
            raise HTTPException(403, f"client certificate {fingerprint[:16]}... is not registered with this hub")
        return caller

    async def from_token(self, token: str, via: str) -> Caller:
        claims = await self.verify(token)
        client_id = client_id_of(claims, self.auth)
        system = self.registry.system(client_id, str(claims["sub"]), via) if client_id else None
        if system is not None:
            return system
        if client_id == self.auth.people_client_id:
            return person(claims, self.auth, via)
        raise HTTPException(403, f"client {client_id!r} is not registered with this hub")

    async def verify(self, token: str) -> dict[str, Any]:
        if self.verifier is None:
            raise unauthorised("this hub has no token issuer configured (HUB_AUTH__ISSUER)")
        try:
            return await self.verifier.verify(token)
        except InvalidToken as exc:
            raise unauthorised(str(exc)) from None
        except IssuerUnavailable as exc:
            log.warning("token issuer unavailable", error=str(exc))
            raise HTTPException(503, "the token issuer cannot be reached", headers={"Retry-After": "5"}) from None

    def open_session(self, session: dict[str, Any], caller: Caller) -> None:
        """Sign a person in: what ``_from_session`` reads back on each request, and a new CSRF token."""
        session.clear()
        session[CALLER_KEY] = {
            "subject": caller.subject,
            "name": caller.name,
            "roles": list(caller.roles),
            "permissions": sorted(caller.permissions),
            "expires_at": time.time() + self.auth.session_max_age_seconds,
        }
        session[CSRF_KEY] = secrets.token_urlsafe(32)

    def _from_session(self, request: Request, session: dict[str, Any], signed_in: dict[str, Any]) -> Caller:
        if signed_in.get("expires_at", 0) < time.time():
            session.clear()
            raise unauthorised("the sign-in has expired; sign in again at /auth/login")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER)
            if not sent or sent != session.get(CSRF_KEY):
                raise HTTPException(403, "a signed-in change needs the X-CSRF-Token header from /auth/me")
            origin = request.headers.get("origin")
            if origin is not None and origin.rstrip("/") != str(request.base_url).rstrip("/"):
                raise HTTPException(403, f"a change from origin {origin} is refused")
        return Caller(
            kind="person",
            subject=signed_in["subject"],
            client_id=self.auth.people_client_id,
            permissions=frozenset(signed_in["permissions"]),
            name=signed_in.get("name"),
            roles=tuple(signed_in.get("roles", ())),
            via="session",
        )

    async def disclose(self, caller: Caller, request: Request, doc: Any) -> Any:
        if not holds_personal_data(doc):
            return doc
        if not caller.may(PERSONAL_DATA):
            return mask(doc)
        await self._audit_read(caller, request, case_ids_in(doc))
        return doc

    async def _audit_read(self, caller: Caller, request: Request, case_ids: Iterable[str]) -> None:
        at = datetime.now(UTC)
        cases = sorted(set(case_ids) | {v for k, v in request.path_params.items() if k.endswith("_id")})
        await self._audit(
            {
                "audit_id": str(uuid.uuid4()),
                "action": "read-personal-data",
                "actor": caller.actor,
                "at": at,
                "detail": {
                    "path": request.url.path,
                    "query": str(request.url.query),
                    "case_ids": cases[:200],
                    "cases": len(cases),
                    "client_id": caller.client_id,
                    "organisation": caller.organisation.source if caller.organisation else None,
                },
            }
        )
