"""The operations dashboard: message flows, dead letters, alerts, clocks and transitions at a glance.

Personal data is masked server-side for roles that do not need it: only ``admin`` sees names,
NHS numbers and dates of birth; ``viewer`` and ``operator`` see a stable pseudonym instead.
Operators (and admins) may redrive dead letters. Roles come from bearer tokens configured in
``HUB_DASHBOARD_TOKENS``; without a token a visitor is a viewer.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from hub.logging import pseudonym
from hub.transitions import measures

ROLES = ("viewer", "operator", "admin")
SEES_PERSONAL_DATA = {"admin"}
MAY_REDRIVE = {"operator", "admin"}
PERSONAL_FIELDS = ("nhs_number", "given_name", "family_name", "date_of_birth", "upn", "uln")

router = APIRouter(tags=["dashboard"])


def role_of(request: Request) -> str:
    tokens: dict[str, str] = getattr(request.app.state, "dashboard_tokens", {})
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    role = tokens.get(token, "viewer") if token else "viewer"
    return role if role in ROLES else "viewer"


def require_role(request: Request, allowed: set[str]) -> str:
    role = role_of(request)
    if role not in allowed:
        raise HTTPException(403, f"the {role} role may not do this; it needs one of {sorted(allowed)}")
    return role


def mask_person(person: dict[str, Any] | None, role: str) -> dict[str, Any] | None:
    """A person as this role may see them: in full for admins, otherwise as a pseudonym."""
    if person is None:
        return None
    if role in SEES_PERSONAL_DATA:
        return person
    masked = {k: v for k, v in person.items() if k not in PERSONAL_FIELDS}
    masked["pseudonym"] = pseudonym(person.get("nhs_number") or person.get("la_person_id") or "")
    for k in PERSONAL_FIELDS:
        if person.get(k):
            masked[k] = "•••"
    return masked


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(files("hub.http").joinpath("static/dashboard.html").read_text(encoding="utf-8"))


@router.get("/ops/dashboard", tags=["operations"])
async def dashboard_data(request: Request) -> dict[str, Any]:
    """Everything the dashboard shows, already masked for the caller's role."""
    role = role_of(request)
    store = request.app.state.hub.store
    cases = await store.recent_cases(50)
    return {
        "role": role,
        "may_redrive": role in MAY_REDRIVE,
        "counts": await store.counts(),
        "recent_events": await store.recent_events(50),
        "dead_letters": await store.dead_letters(pending_only=True),
        "alerts": (await store.alerts())[-50:],
        "transitions": measures(await store.referral_sources()),
        "cases": [{**c, "person": mask_person(c.get("person"), role)} for c in cases],
    }
