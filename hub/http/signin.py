"""People sign in with OpenID Connect (authorization code with PKCE) against the hub's issuer.

Authlib runs the flow: state, nonce and the PKCE verifier are kept in the signed session cookie,
and the ID token is checked on the way back. The access token is then verified like any bearer
token, and only what the session needs is kept: who signed in, their hub roles and permissions,
when the sign-in ends, and a CSRF token that every signed-in change must echo.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import urlencode

import authlib.deprecate  # noqa: F401 - installs Authlib's own warning filter before ours

with warnings.catch_warnings():
    # Authlib prefers the httpx2 package and warns when it falls back to httpx, which is this stack's.
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from adapters.access import Caller, current_caller
from hub.auth.authenticator import CSRF_KEY
from hub.http.state import Authenticator
from hub.settings import AuthSettings

router = APIRouter(prefix="/auth", tags=["sign-in"])


def install(app: Any, auth: AuthSettings) -> None:
    if auth.issuer is None:
        return
    oauth = OAuth()
    oauth.register(
        "hub",
        client_id=auth.people_client_id,
        client_secret=auth.people_client_secret.get_secret_value() if auth.people_client_secret else None,
        server_metadata_url=f"{auth.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )
    app.state.oidc = oauth.create_client("hub")


def _oidc(request: Request) -> Any:
    client = getattr(request.app.state, "oidc", None)
    if client is None:
        raise HTTPException(503, "sign-in is not configured: set HUB_AUTH__ISSUER")
    return client


@router.get("/login", summary="Start signing in (redirects to the identity provider)")
async def login(request: Request) -> Any:
    return await _oidc(request).authorize_redirect(request, str(request.url_for("signin_callback")))


@router.get("/callback", name="signin_callback", summary="Where the identity provider returns after sign-in")
async def callback(request: Request, authenticator: Authenticator) -> Any:
    client = _oidc(request)
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        raise HTTPException(400, f"sign-in failed: {exc.error}") from None
    caller = await authenticator.from_token(token["access_token"], via="session")
    if caller.kind != "person":
        raise HTTPException(403, "sign in as a person, not a system client")
    authenticator.open_session(request.session, caller)
    return RedirectResponse("/", status_code=303)


@router.get("/me", summary="Who is signed in, their roles, and the CSRF token for changes")
async def me(request: Request, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return {
        "kind": caller.kind,
        "name": caller.name,
        "subject": caller.subject,
        "roles": list(caller.roles),
        "permissions": sorted(caller.permissions),
        "organisation": caller.organisation.source if caller.organisation else None,
        "csrf_token": request.session.get(CSRF_KEY) if caller.via == "session" else None,
    }


@router.post("/logout", summary="End the signed-in session (then end it at the issuer: end_session)")
async def logout(
    request: Request, authenticator: Authenticator, caller: Caller = Depends(current_caller)
) -> dict[str, str | None]:
    request.session.clear()
    end_session = None
    if authenticator.verifier is not None:
        meta = await authenticator.verifier.metadata()
        if meta.end_session_endpoint:
            back = str(request.url_for("login"))
            query = {"client_id": authenticator.auth.people_client_id, "post_logout_redirect_uri": back}
            end_session = f"{meta.end_session_endpoint}?{urlencode(query)}"
    return {"signed_out": caller.actor, "end_session": end_session}
