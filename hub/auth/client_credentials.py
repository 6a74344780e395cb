"""Getting access tokens as a system client does: OAuth 2.0 client credentials, authenticating to
the issuer with a client secret or with a signed JWT (``private_key_jwt``, RFC 7523, the pattern
NHS England uses for application-restricted APIs). ``hub demo`` and the tests call the hub with
these tokens, exactly as an agency's system would."""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # noqa: F401 - installs Authlib's own warning filter before ours
import httpx

with warnings.catch_warnings():
    # Authlib prefers the httpx2 package and warns when it falls back to httpx, which is this stack's.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    token_endpoint: str
    secret: str | None = None
    private_key_pem: str | None = None


class TokenSource:
    """A client's access token, fetched when first needed and again shortly before it expires."""

    def __init__(self, credentials: ClientCredentials, margin_seconds: float = 30) -> None:
        self.credentials = credentials
        self.margin = margin_seconds
        self._token: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        async with self._lock:
            if self._token is None or float(self._token.get("expires_at", 0)) - self.margin < time.time():
                self._token = await self._fetch()
            return str(self._token["access_token"])

    async def _fetch(self) -> dict[str, Any]:
        c = self.credentials
        if c.private_key_pem is not None:
            client = AsyncOAuth2Client(
                c.client_id, c.private_key_pem, token_endpoint_auth_method=PrivateKeyJWT(c.token_endpoint)
            )
        else:
            client = AsyncOAuth2Client(c.client_id, c.secret, token_endpoint_auth_method="client_secret_post")
        async with client:
            token: dict[str, Any] = await client.fetch_token(c.token_endpoint, grant_type="client_credentials")
        return token


class BearerAuth(httpx.Auth):
    """httpx authentication that sends the source's current token with every request."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.source.access_token()}"
        yield request
