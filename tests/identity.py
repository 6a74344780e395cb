"""The tests' identity provider: a real Keycloak with the development realm, and each agency's
system client getting its tokens from it as it would in production."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any
from urllib.parse import parse_qs

import httpx

from hub.auth.client_credentials import BearerAuth, TokenSource
from hub.devtools import keycloak_local
from hub.devtools.keycloak_local import CLIENTS_FILE, KeycloakInfo

# The hub's own view of who each client is (deploy/keycloak/clients.json).
REGISTRY: dict[str, Any] = json.loads(CLIENTS_FILE.read_text())["clients"]
CLIENT_BY_CODE = {
    (reg["organisation"]["agency"], reg["organisation"]["code"]): cid
    for cid, reg in REGISTRY.items()
    if "organisation" in reg
}
# In the tests the operator's tools may also read personal data, so journeys can assert on it.
TEST_CLIENTS = {
    "ops-monitor": {
        "permissions": [
            "ops:read",
            "ops:operate",
            "personal-data:read",
            "subject-access:export",
            "personal-data:erase",
            "legal-holds:manage",
        ],
        "organisation": None,
    },
}


class Tokens:
    """One token source per client of the development realm, shared by every test."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self._sources: dict[str, TokenSource] = {}

    def source(self, client_id: str) -> TokenSource:
        if client_id not in self._sources:
            self._sources[client_id] = TokenSource(keycloak_local.dev_credentials(client_id, self.issuer))
        return self._sources[client_id]

    async def token(self, client_id: str) -> str:
        return await self.source(client_id).access_token()

    def auth(self, client_id: str) -> BearerAuth:
        return BearerAuth(self.source(client_id))


class AsAgency(httpx.Auth):
    """Sends each request with the token of the agency system that would make it.

    The journeys play every agency through one client; this picks the identity the way the real
    systems are split: the operator's tools for /ops, the NHS provider for /fhir, the adviser named
    in advice, the recipient whose inbox is read, the LA otherwise. ``X-Test-As: <client id>`` on
    a request names the identity outright (and is not sent)."""

    requires_request_body = True

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def client_for(self, request: httpx.Request) -> str:
        path = request.url.path
        if path.startswith("/ops") or path in ("/metrics", "/asyncapi", "/openapi.json"):
            return "ops-monitor"
        if path.startswith("/fhir"):
            return "nhs-rbs"
        if path.startswith("/api/v1/adult-social-care"):
            return "asc-202"
        if path.startswith("/api/v1/advice-requests"):
            code = parse_qs(request.url.query.decode()).get("recipient", [""])[0]
            return next((cid for (_, c), cid in CLIENT_BY_CODE.items() if c == code), "la-202")
        body: dict[str, Any] = {}
        if request.headers.get("content-type", "").startswith("application/json") and request.content:
            try:
                loaded = json.loads(request.content)
            except (ValueError, RecursionError):  # a test sending a broken or hostile body on purpose
                loaded = {}
            body = loaded if isinstance(loaded, dict) else {}
        body = body.get("data", body)
        org = (body.get("adviser") or {}).get("organisation") or body.get("recipient") or body.get("changed_by")
        if isinstance(org, dict) and org.get("agency") != "family":
            found = CLIENT_BY_CODE.get((org.get("agency"), org.get("code")))
            if found:
                return found
        if path.startswith("/api/v1/social-care"):
            return "csc-202"
        return CLIENT_BY_CODE.get(("la-sen", str(body.get("la_code") or "202")), "la-202")

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        client_id = request.headers.pop("x-test-as", None) or self.client_for(request)
        request.headers["Authorization"] = f"Bearer {await self.tokens.token(client_id)}"
        yield request


def test_auth_settings(info: KeycloakInfo) -> dict[str, Any]:
    return {
        "issuer": info.issuer,
        "clients_file": str(CLIENTS_FILE),
        "clients": TEST_CLIENTS,
    }


def keycloak_for_tests(state_dir: Any) -> Generator[KeycloakInfo, None, None]:
    info = keycloak_local.up(state_dir=state_dir)
    try:
        yield info
    finally:
        keycloak_local.down(state_dir)
