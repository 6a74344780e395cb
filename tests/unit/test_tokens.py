"""Token verification against an issuer on a real socket: every way a token can be bad is refused
with a reason, and a rotated key is picked up without a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import jwt
import pytest

from hub.auth.tokens import InvalidToken, IssuerUnavailable, TokenVerifier
from tests.local_issuer import LocalIssuer, unsigned
from tests.servers import serving


@pytest.fixture
async def issuer() -> AsyncIterator[LocalIssuer]:
    local = LocalIssuer()
    async with serving(local.app) as url:
        local.url = url
        yield local


def verifier(issuer: LocalIssuer, **kw: float) -> TokenVerifier:
    return TokenVerifier(issuer.url, "ehc-hub", ["RS256", "ES256"], **kw)


async def test_a_good_token_gives_its_claims(issuer: LocalIssuer) -> None:
    claims = await verifier(issuer).verify(issuer.token(client_id="nhs-rbs"))
    assert claims["client_id"] == "nhs-rbs" and claims["aud"] == "ehc-hub"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.token(lifetime=-120), "expired"),
        (lambda i: i.token(audience="another-api"), "not for this hub"),
        (lambda i: i.token(issuer="https://evil.example/realms/ehc-hub"), "another issuer"),
        (lambda i: i.token(nbf=int(time.time()) + 3600), "not valid yet"),
        (lambda i: i.token()[:-6] + "AAAAAA", "signature"),
        (lambda i: unsigned({"iss": i.url, "aud": "ehc-hub", "sub": "x", "exp": int(time.time()) + 60}), "'none'"),
        (lambda i: "not-a-jwt", "malformed"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "bad-signature", "alg-none", "garbage"],
)
async def test_bad_tokens_are_refused_with_the_reason(issuer: LocalIssuer, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidToken, match=reason):
        await verifier(issuer).verify(make(issuer))


async def test_hmac_signed_with_the_public_key_is_refused(issuer: LocalIssuer) -> None:
    """The classic confusion: HS256 keyed with the RSA public key the issuer publishes."""
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.current_kid}
    payload = {"iss": issuer.url, "aud": "ehc-hub", "sub": "x", "exp": int(time.time()) + 60}
    signing_input = ".".join(
        jwt.utils.base64url_encode(json.dumps(p).encode()).decode() for p in (header, payload)
    ).encode()
    signature = hmac.new(issuer.public_pem(), signing_input, hashlib.sha256).digest()
    forged = signing_input.decode() + "." + jwt.utils.base64url_encode(signature).decode()
    with pytest.raises(InvalidToken, match="'HS256' is not accepted"):
        await verifier(issuer).verify(forged)


def test_symmetric_algorithms_cannot_be_allowed() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier("https://issuer.example", "ehc-hub", ["RS256", "HS256"])


async def test_a_rotated_key_is_fetched_on_first_sight_and_unknown_keys_do_not_hammer_the_issuer(
    issuer: LocalIssuer,
) -> None:
    v = verifier(issuer, min_refresh_seconds=0.5)
    await v.verify(issuer.token())
    assert issuer.jwks_fetches == 1
    await v.verify(issuer.token())
    assert issuer.jwks_fetches == 1, "known keys are cached"

    new_kid = issuer.rotate()
    time.sleep(0.6)
    assert (await v.verify(issuer.token(kid=new_kid)))["sub"]
    assert issuer.jwks_fetches == 2, "an unknown key id refreshes the key set once"

    rogue = issuer.rotate()
    issuer.published.remove(rogue)  # a key the issuer never published
    for _ in range(5):
        with pytest.raises(InvalidToken, match="no signing key"):
            await v.verify(issuer.token(kid=rogue))
    assert issuer.jwks_fetches <= 3, "a flood of unknown key ids is rate-limited"


async def test_an_unreachable_issuer_is_a_fault_not_a_bad_token(issuer: LocalIssuer) -> None:
    from hub.devtools.kafka_local import free_port

    assert not await TokenVerifier(f"http://127.0.0.1:{free_port()}", "ehc-hub", ["RS256"]).ready()
    assert await verifier(issuer).ready(), "ready once the keys can be fetched"
    with pytest.raises(IssuerUnavailable):
        await TokenVerifier(f"http://127.0.0.1:{free_port()}", "ehc-hub", ["RS256"]).verify(LocalIssuer().token())


async def test_a_token_sent_again_is_not_verified_again_until_it_expires_or_its_key_goes(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = verifier(issuer, min_refresh_seconds=0)
    decoded: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: object, **kwargs: object) -> object:
        decoded.append(token)
        return decode(token, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting)
    token = issuer.token(client_id="nhs-rbs")
    first = await v.verify(token)
    first["client_id"] = "changed by a caller"
    assert (await v.verify(token))["client_id"] == "nhs-rbs", "a caller's changes do not reach the next"
    assert len(decoded) == 1, "the same token is checked once"

    brief = issuer.token(lifetime=1)
    await v.verify(brief)
    monkeypatch.setattr(v, "leeway", 0)
    time.sleep(1.1)
    with pytest.raises(InvalidToken, match="expired"):
        await v.verify(brief)

    issuer.published.remove(issuer.current_kid)  # the key that signed `token` is withdrawn
    replacement = issuer.rotate()
    await v.verify(issuer.token(kid=replacement))  # the key set is fetched again
    with pytest.raises(InvalidToken, match="no signing key"):
        await v.verify(token)
