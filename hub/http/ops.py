"""Operations API: trace a case, inspect and redrive dead letters, counters for dashboards.

Reads need ``ops:read`` and answer through ``Reader.show``, which masks people for callers without
``personal-data:read`` and audits the reads of those with it; changes need ``ops:operate``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from adapters.access import (
    PERSONAL_DATA,
    SUBJECT_ACCESS,
    THIRD_PARTIES,
    Caller,
    Reader,
    permit,
    reads,
    refuse,
    refuse_for_one_organisation,
)
from hub.cooperative import share_the_loop
from hub.domain.clocks import Clock, case_clocks, timeliness
from hub.domain.planner import TransitionMeasures, measures
from hub.http.state import State
from hub.ops import dlq
from hub.ops.audit import record_operator_action
from hub.ops.subject_access import IdentifierRefused, IdentifierType, audit_record, export_for, subject_identifier
from hub.ops.subject_access_report import render_html
from hub.pipeline.publisher import EventPublisher
from hub.settings import StatutoryRules

router = APIRouter(prefix="/ops", tags=["operations"])


@router.get("/cases/{case_id}/trace")
async def trace_case(case_id: str, state: State, reader: Reader = reads("ops:read")) -> Any:
    trace = await state.store.trace(case_id)
    if state.dispatch is not None:
        trace["dispatches"] = await state.dispatch.for_case(case_id)
    if trace["case"] is None and not trace["dead_letters"]:
        raise HTTPException(404, f"no case {case_id!r} is known to the hub")
    return await reader.show(trace)


@router.get("/dead-letters")
async def list_dead_letters(
    state: State, case_id: str | None = None, pending: bool = False, reader: Reader = reads("ops:read")
) -> Any:
    return await reader.show(await state.store.dead_letters(case_id, pending_only=pending))


class RedriveRequest(BaseModel):
    ids: list[str] = Field(default_factory=list, description="dead-letter ids (partition-offset); empty: use filters")
    case_id: str | None = None
    event_type: str | None = None
    stage: str | None = None
    include_redriven: bool = False
    reason: str = Field(default="", max_length=2000, description="why (audited with the signed-in person)")


@router.post("/dead-letters/redrive")
async def redrive_dead_letters(
    body: RedriveRequest, state: State, caller: Caller = permit("ops:operate")
) -> dict[str, Any]:
    """Audited under the caller's identity from its credential: the signed-in person, or the client."""
    audits = await dlq.redrive(
        bootstrap_servers=state.bootstrap_servers,
        names=state.names,
        store=state.store,
        producer=state.producer,
        selection=dlq.Selection(tuple(body.ids), body.case_id, body.event_type, body.stage, body.include_redriven),
        actor=caller.actor,
        reason=body.reason,
        client_config=state.client_config,
    )
    return {"redriven": len(audits), "audit_ids": [a["audit_id"] for a in audits]}


class SubjectAccessRequest(BaseModel):
    identifier_type: IdentifierType
    identifier: str = Field(
        min_length=1, max_length=64, description="kept out of the audit, which holds a keyed pseudonym of it"
    )
    la_code: str | None = Field(default=None, max_length=16, description="the council of an la_person_id")
    third_parties: Literal["redacted", "shown"] = Field(
        default="redacted", description="shown: for review before release, with subject-access:third-parties"
    )
    format: Literal["json", "html"] = "json"


@router.post(
    "/subject-access",
    summary="Everything the hub holds on one person (UK GDPR Art. 15), audited",
    responses={200: {"content": {"text/html": {}}, "description": "the export, as JSON or a printable page"}},
)
async def subject_access(
    body: SubjectAccessRequest, state: State, caller: Caller = permit(SUBJECT_ACCESS, PERSONAL_DATA)
) -> Any:
    """The person is named in the body, never the address, so identifiers stay out of access logs.
    Other people in their records are redacted unless the caller may review them."""
    refuse_for_one_organisation(caller, "a subject access export")
    if body.third_parties == "shown" and not caller.may(THIRD_PARTIES):
        raise refuse(f"{caller.actor} lacks the permission {THIRD_PARTIES} to see third parties")
    try:
        identifier = subject_identifier(body.identifier_type, body.identifier, body.la_code)
    except IdentifierRefused as exc:
        raise HTTPException(422, f"identifier: {exc}") from None
    export = jsonable_encoder(
        await export_for(
            state.store, identifier, actor=caller.actor, third_parties=body.third_parties, dispatch=state.dispatch
        )
    )
    audit = audit_record(export, identifier, caller.actor)
    await record_operator_action(EventPublisher(state.producer, state.names), state.store, audit)
    headers = {"Cache-Control": "no-store", "X-Audit-Id": audit["audit_id"]}
    if body.format == "html":
        return HTMLResponse(render_html(export), headers=headers)
    return JSONResponse(export, headers=headers)


@router.get("/cases/{case_id}/clocks")
async def case_clock_status(case_id: str, state: State, reader: Reader = reads("ops:read")) -> Any:
    """Every statutory clock of one case with its state today."""
    contexts = await state.store.case_contexts([case_id])
    if case_id not in contexts:
        raise HTTPException(404, f"no case {case_id!r} is known to the hub")
    today = state.today()
    return await reader.show([clock_json(c, today, state.rules) for c in case_clocks(contexts[case_id], state.rules)])


@router.get("/clocks")
async def clocks_by_organisation(
    response: Response,
    state: State,
    agency: str | None = None,
    organisation: str | None = None,
    state_filter: str | None = None,
    limit: int = Query(default=5000, ge=1, le=50_000, description="at most this many clocks"),
    reader: Reader = reads("ops:read"),
) -> Any:
    """Clocks across open cases, e.g. every overdue advice request of one NHS provider, in case
    order. Cases are read a page at a time, giving way between pages; ``X-Truncated: true`` says
    that more clocks matched than ``limit``."""
    today = state.today()
    out: list[dict[str, Any]] = []
    async for page in state.store.open_case_pages(today):
        for ctx in (await state.store.case_contexts(page)).values():
            for clock in case_clocks(ctx, state.rules):
                if (agency and clock.agency != agency) or (organisation and clock.organisation != organisation):
                    continue
                row = clock_json(clock, today, state.rules)
                if state_filter is None or row["state"] == state_filter:
                    if len(out) == limit:
                        response.headers["X-Truncated"] = "true"
                        return await reader.show(out)
                    out.append(row)
            await share_the_loop()
    return await reader.show(out)


@router.post("/clocks/sweep", dependencies=[permit("ops:operate")])
async def sweep_clocks(state: State) -> dict[str, Any]:
    """Check every clock now rather than at the next scheduled sweep. The answer counts the alerts
    raised, by kind, and lists the first thousand; ``GET /ops/alerts`` has them all."""
    if state.watcher is None:
        raise HTTPException(503, "this instance runs no clock watcher")
    sweep = await state.watcher.sweep()
    return {
        "count": sweep.count,
        "by_kind": dict(sweep.by_kind),
        "raised": [a.model_dump(mode="json") for a in sweep.alerts],
    }


@router.get("/alerts")
async def list_alerts(
    state: State, agency: str | None = None, case_id: str | None = None, reader: Reader = reads("ops:read")
) -> Any:
    return await reader.show(await state.store.alerts(agency, case_id))


@router.get("/timeliness")
async def timeliness_figure(state: State, la_code: str | None = None, _: Reader = reads("ops:read")) -> Any:
    """The DfE headline: new plans issued within 20 weeks, excluding cases with exceptions."""
    rows = await state.store.cases_rows(la_code)
    contexts = await state.store.case_contexts([r["case_id"] for r in rows])
    return {"la_code": la_code, **timeliness(list(contexts.values()), state.rules)}


def clock_json(clock: Clock, today: date, rules: StatutoryRules) -> dict[str, Any]:
    """A clock as the ops API and the dashboard show it, with its state today."""
    return {
        "clock_id": clock.clock_id,
        "case_id": clock.case_id,
        "kind": clock.kind,
        "start": clock.start,
        "due": clock.due,
        "stopped": clock.stopped,
        "state": clock.state(today, rules.warning_days),
        "exceptions": list(clock.exceptions),
        "agency": clock.agency,
        "organisation": clock.organisation,
        "request_id": clock.request_id,
        "statutory": clock.statutory,
        **({"advice_kind": clock.advice_kind, "received": clock.advice_received} if clock.advice_kind else {}),
    }


@router.get("/transitions/measures")
async def transition_measures(state: State, _: Reader = reads("ops:read")) -> dict[str, TransitionMeasures]:
    """Per LA: assessments reused, assessments re-done, median days from referral to adult decision."""
    return measures(await state.store.referral_sources())


@router.get("/referrals/{referral_id}")
async def referral(referral_id: str, state: State, reader: Reader = reads("ops:read")) -> Any:
    found = await state.store.referral_contexts([referral_id])
    if referral_id not in found:
        raise HTTPException(404, f"no transition referral {referral_id!r}")
    return await reader.show(jsonable_encoder(found[referral_id]))


@router.get("/deliveries", summary="Each recipient system's backlog, oldest waiting record and state")
async def deliveries(state: State, _: Reader = reads("ops:read")) -> list[dict[str, Any]]:
    return await state.dispatch.backlog() if state.dispatch is not None else []


@router.get("/stats")
async def stats(state: State, _: Reader = reads("ops:read")) -> dict[str, int]:
    return await state.store.counts()
