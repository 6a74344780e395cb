"""Operations API: trace a case, inspect and redrive dead letters, counters for dashboards."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from hub import dlq
from hub.http.state import HubState

router = APIRouter(prefix="/ops", tags=["operations"])


def _state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


@router.get("/cases/{case_id}/trace")
async def trace_case(case_id: str, request: Request) -> dict[str, Any]:
    trace = await _state(request).store.trace(case_id)
    if trace["case"] is None and not trace["dead_letters"]:
        raise HTTPException(404, f"no case {case_id!r} is known to the hub")
    return trace


@router.get("/dead-letters")
async def list_dead_letters(
    request: Request, case_id: str | None = None, pending: bool = False
) -> list[dict[str, Any]]:
    return await _state(request).store.dead_letters(case_id, pending_only=pending)


class RedriveRequest(BaseModel):
    ids: list[str] = Field(default_factory=list, description="dead-letter ids (partition-offset); empty: use filters")
    case_id: str | None = None
    event_type: str | None = None
    stage: str | None = None
    include_redriven: bool = False
    actor: str = Field(min_length=1, description="who asked for the redrive (audited)")
    reason: str = ""


@router.post("/dead-letters/redrive")
async def redrive_dead_letters(body: RedriveRequest, request: Request) -> dict[str, Any]:
    state = _state(request)
    audits = await dlq.redrive(
        bootstrap_servers=state.bootstrap_servers,
        names=state.names,
        store=state.store,
        producer=state.producer,
        selection=dlq.Selection(tuple(body.ids), body.case_id, body.event_type, body.stage, body.include_redriven),
        actor=body.actor,
        reason=body.reason,
        client_config=state.client_config,
    )
    return {"redriven": len(audits), "audit_ids": [a["audit_id"] for a in audits]}


@router.get("/stats")
async def stats(request: Request) -> dict[str, int]:
    return await _state(request).store.counts()
