"""A minimal OpenID Connect issuer with keys of the test's own, served on a real socket, for the
token edge cases a real issuer will not produce on demand (expired, other audience, alg none,
HMAC keyed with the public key, a rotated key)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class LocalIssuer:
    def __init__(self) -> None:
        self.url = ""
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.jwks_fetches = 0
        self.rotate()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
            ]
        )

    def rotate(self) -> str:
        """A new signing key, published beside the old ones; returns its key id."""
        kid = uuid.uuid4().hex[:8]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        return kid

    @property
    def current_kid(self) -> str:
        return self.published[-1]

    def token(
        self,
        *,
        client_id: str = "la-202",
        audience: str = "ehc-hub",
        issuer: str | None = None,
        lifetime: float = 300,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = time.time()
        payload = {
            "iss": issuer or self.url,
            "aud": audience,
            "sub": f"service-account-{client_id}",
            "client_id": client_id,
            "azp": client_id,
            "iat": int(now),
            "exp": int(now + lifetime),
            **claims,
        }
        kid = kid or self.current_kid
        return jwt.encode(payload, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def public_pem(self, kid: str | None = None) -> bytes:
        return (
            self.keys[kid or self.current_kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    async def _discovery(self, _: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/jwks",
                "token_endpoint": f"{self.url}/token",
                "authorization_endpoint": f"{self.url}/auth",
            }
        )

    async def _jwks(self, _: Request) -> JSONResponse:
        self.jwks_fetches += 1
        keys = []
        for kid in self.published:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return JSONResponse({"keys": keys})


def unsigned(payload: dict[str, Any]) -> str:
    """A token with ``alg: none`` and no signature."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."
