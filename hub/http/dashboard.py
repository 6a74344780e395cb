"""The operations dashboard: message flows, dead letters, alerts, clocks and transitions at a glance.

People sign in with OpenID Connect (``/auth/login``); their roles come from the token. Every role
may look (``ops:read``); personal data is masked server-side unless the person holds
``personal-data:read`` (admins), whose every such read is audited; operators and admins
(``ops:operate``) may redrive dead letters.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adapters.access import PERSONAL_DATA, SUBJECT_ACCESS, THIRD_PARTIES, Reader, current_caller, permit, reads
from hub.domain.clocks import case_clocks
from hub.domain.planner import measures
from hub.http.ops import clock_json
from hub.http.state import State

router = APIRouter(tags=["dashboard"])
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}


def _asset(name: str) -> str:
    return files("hub.http").joinpath(f"static/{name}").read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request) -> Response:
    """The page itself; a visitor who has not signed in is sent to sign in."""
    try:
        await current_caller(request)
    except HTTPException as exc:
        if exc.status_code == 401:
            return RedirectResponse("/auth/login", status_code=303)
        raise
    return HTMLResponse(_asset("dashboard.html"))


def _serve_asset(name: str) -> None:
    async def serve() -> Response:
        return Response(_asset(name), media_type=ASSETS[name])

    router.add_api_route(f"/{name}", serve, include_in_schema=False, dependencies=[permit("ops:read")])


for _name in ASSETS:
    _serve_asset(_name)


ATTENTION = ("due-soon", "overdue", "late", "reminder")


async def _needing_attention(state: State, case_ids: list[str]) -> list[dict[str, Any]]:
    """The clocks of the cases on screen that are due soon, overdue, late, or past a reminder:
    assessment, review, phase transfer, appeal and transfer limits alike."""
    today = state.today()
    contexts = await state.store.case_contexts(case_ids)
    rows = [clock_json(c, today, state.rules) for ctx in contexts.values() for c in case_clocks(ctx, state.rules)]
    return sorted((r for r in rows if r["state"] in ATTENTION), key=lambda r: (r["due"], r["clock_id"]))


@router.get("/ops/dashboard", tags=["operations"])
async def dashboard_data(state: State, reader: Reader = reads("ops:read")) -> Any:
    """Everything the dashboard shows, masked for the caller."""
    caller = reader.caller
    store = state.store
    cases = await store.recent_cases(50)
    return await reader.show(
        {
            "role": ", ".join(caller.roles) or caller.kind,
            "may_redrive": caller.may("ops:operate"),
            "may_export_subject_access": caller.may(SUBJECT_ACCESS) and caller.may(PERSONAL_DATA),
            "may_show_third_parties": caller.may(THIRD_PARTIES),
            "counts": await store.counts(),
            "recent_events": await store.recent_events(50),
            "dead_letters": await store.dead_letters(pending_only=True),
            "alerts": (await store.alerts())[-50:],
            "transitions": jsonable_encoder(measures(await store.referral_sources())),
            "cases": cases,
            "clocks": await _needing_attention(state, [c["case_id"] for c in cases]),
            "recipients": await state.dispatch.backlog() if state.dispatch is not None else [],
        }
    )
