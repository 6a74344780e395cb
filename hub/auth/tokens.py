"""Verifying OAuth 2.0 access tokens (JWT) from one OpenID Connect issuer.

The issuer is found through its discovery document and its keys through ``jwks_uri``, so any
compliant issuer works: Keycloak, Microsoft Entra ID, NHS England's authorisation server. PyJWT
does the cryptography and the claim checks; this module decides which key and which algorithms
are acceptable. Algorithms are an allow-list of asymmetric ones, so ``none`` and HMAC signed with
a public key are never accepted. A token naming a key id the cached key set lacks makes the key
set be fetched again (at most once per ``min_refresh_seconds``), so keys rotate without a restart.

A client sends the same token with every request until it expires. Checking its signature again
each time cost as much as a tenth of accepting a FHIR message, so a verified token's claims are
kept until its expiry, for a bounded number of tokens, and only while the key that signed it is
still in the issuer's key set.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK

VERIFIED_TOKENS_KEPT = 4096
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (it goes back to the caller)."""


class IssuerUnavailable(Exception):
    """The issuer's discovery document or key set could not be fetched: a fault, not the caller's."""


@dataclass(frozen=True)
class IssuerMetadata:
    issuer: str
    jwks_uri: str
    token_endpoint: str
    authorization_endpoint: str | None
    end_session_endpoint: str | None


class TokenVerifier:
    def __init__(
        self,
        issuer: str,
        audience: str,
        algorithms: list[str],
        *,
        leeway_seconds: float = 30,
        min_refresh_seconds: float = 10,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        unsafe = sorted(set(algorithms) - ASYMMETRIC)
        if unsafe:
            raise ValueError(f"only asymmetric signature algorithms may be allowed, not {unsafe}")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway_seconds
        self.min_refresh = min_refresh_seconds
        self._http = http or httpx.AsyncClient(timeout=10)
        self._metadata: IssuerMetadata | None = None
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()
        self._verified: OrderedDict[str, tuple[dict[str, Any], str | None]] = OrderedDict()

    async def close(self) -> None:
        await self._http.aclose()

    async def metadata(self) -> IssuerMetadata:
        if self._metadata is None:
            doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
                raise IssuerUnavailable(f"the discovery document names issuer {doc.get('issuer')!r}, not {self.issuer}")
            self._metadata = IssuerMetadata(
                issuer=doc["issuer"],
                jwks_uri=doc["jwks_uri"],
                token_endpoint=doc["token_endpoint"],
                authorization_endpoint=doc.get("authorization_endpoint"),
                end_session_endpoint=doc.get("end_session_endpoint"),
            )
        return self._metadata

    async def ready(self) -> bool:
        """Whether tokens can be verified: the issuer's keys are known, or can be fetched now."""
        if self._keys:
            return True
        try:
            async with self._lock:
                await self._refresh()
        except IssuerUnavailable:
            return False
        return bool(self._keys)

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if its signature, issuer, audience and times are good."""
        known = self._verified.get(token)
        if known is not None:
            claims, kid = known
            if kid in self._keys and time.time() < claims["exp"] + self.leeway:
                self._verified.move_to_end(token)
                return dict(claims)
            del self._verified[token]
        claims, kid = await self._verify(token)
        self._verified[token] = (dict(claims), kid)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> tuple[dict[str, Any], str | None]:
        """The token's claims, and the id of the key that signed it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise InvalidToken(f"algorithm {alg!r} is not accepted; allowed: {', '.join(self.algorithms)}")
        key = await self._key(header.get("kid"))
        if key.algorithm_name != alg:
            raise InvalidToken(f"key {header.get('kid')!r} is for {key.algorithm_name}, not {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=(await self.metadata()).issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(_reason(exc)) from None
        return claims, header.get("kid")

    async def _key(self, kid: str | None) -> PyJWK:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.min_refresh:
                await self._refresh()
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise InvalidToken(f"the issuer has no signing key {kid!r}")

    async def _refresh(self) -> None:
        doc = await self._get_json((await self.metadata()).jwks_uri)
        keys: dict[str | None, PyJWK] = {}
        for raw in doc.get("keys", []):
            if raw.get("use", "sig") != "sig":
                continue
            try:
                key = PyJWK(raw)
            except jwt.PyJWTError:
                continue  # a key type this verifier cannot use, e.g. an encryption key
            if key.algorithm_name in self.algorithms:
                keys[raw.get("kid")] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            doc: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
        return doc


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet (nbf or iat in the future)"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is not for this hub (aud)"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the token is from another issuer (iss)"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not verify"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token lacks the {exc.claim!r} claim"
    return f"the token is invalid: {exc}"
