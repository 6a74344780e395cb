"""Operations API: trace a case, inspect and redrive dead letters, counters for dashboards.

Reads need ``ops:read`` and answer through ``Reader.show``, which masks people for callers without
``personal-data:read`` and audits the reads of those with it; changes need ``ops:operate``."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from adapters.access import (
    ERASE,
    LEGAL_HOLDS,
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
from hub.auth.pseudonyms import pseudonym
from hub.cooperative import share_the_loop
from hub.domain.clocks import Clock, case_clocks, timeliness
from hub.domain.planner import TransitionMeasures, measures
from hub.http.state import HubState, State
from hub.ops import dlq
from hub.ops.audit import record_operator_action
from hub.ops.subject_access import IdentifierRefused, IdentifierType, audit_record, export_for, subject_identifier
from hub.ops.subject_access_report import render_html
from hub.pipeline.publisher import EventPublisher
from hub.privacy.erasure import Ground, UnderLegalHold, erase_person, erasure_audit
from hub.privacy.retention import retention_sweep
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


class ErasureRequest(BaseModel):
    identifier_type: IdentifierType
    identifier: str = Field(min_length=1, max_length=64, description="kept out of the audit and the erasure log")
    la_code: str | None = Field(default=None, max_length=16, description="needed with an LA person id")
    reason: Ground = Field(description="the ground for erasure, recorded in the erasure log")


@router.post("/erasure", summary="Erase one person: their data keys destroyed, the store redacted, audited")
async def erase(body: ErasureRequest, state: State, caller: Caller = permit(ERASE)) -> JSONResponse:
    """Every sealed copy of the person's details, on every topic, becomes unreadable; the store keeps
    their cases' statutory dates and codes with the person shown as erased. Cannot be undone."""
    refuse_for_one_organisation(caller, "an erasure")
    if state.privacy is None:
        raise HTTPException(
            409,
            "this hub does not seal personal data (HUB_PRIVACY__SEAL_PERSONAL_DATA), so the "
            "topics would keep what an erasure removed from the store",
        )
    try:
        identifier = subject_identifier(body.identifier_type, body.identifier, body.la_code)
    except IdentifierRefused as exc:
        raise HTTPException(422, f"identifier: {exc}") from None
    person_key = await state.store.person_key_for(*identifier)
    if person_key is None:
        raise HTTPException(404, "no person with that identifier is known to the hub (or they were erased before)")
    try:
        erasure = await erase_person(state.store, state.privacy, person_key, actor=caller.actor, reason=body.reason)
    except UnderLegalHold as exc:
        raise HTTPException(409, str(exc)) from None
    audit = erasure_audit(erasure, identifier[0], caller.actor, body.reason)
    await record_operator_action(EventPublisher(state.producer, state.names), state.store, audit)
    return JSONResponse(
        jsonable_encoder(erasure), headers={"Cache-Control": "no-store", "X-Audit-Id": audit["audit_id"]}
    )


class LegalHoldRequest(BaseModel):
    identifier_type: IdentifierType | None = Field(default=None, description="hold a person, by an identifier")
    identifier: str | None = Field(default=None, min_length=1, max_length=64)
    la_code: str | None = Field(default=None, max_length=16, description="needed with an LA person id")
    case_id: str | None = Field(default=None, min_length=1, max_length=128, description="or hold a case")
    reason: str = Field(min_length=1, max_length=2000, description="why: the claim, inquiry or complaint")


@router.post("/legal-holds", status_code=201, summary="Stop a person's or a case's erasure, whatever is asked")
async def place_legal_hold(body: LegalHoldRequest, state: State, caller: Caller = permit(LEGAL_HOLDS)) -> Any:
    """A person is named by an identifier, a case by its id: exactly one of the two."""
    if (body.identifier is None) == (body.case_id is None):
        raise HTTPException(422, "name either a person (identifier_type and identifier) or a case (case_id)")
    person_key = None
    if body.identifier is not None:
        try:
            identifier = subject_identifier(body.identifier_type or "nhs_number", body.identifier, body.la_code)
        except IdentifierRefused as exc:
            raise HTTPException(422, f"identifier: {exc}") from None
        person_key = await state.store.person_key_for(*identifier)
        if person_key is None:
            raise HTTPException(404, "no person with that identifier is known to the hub")
    elif not await state.store.case_contexts([body.case_id or ""]):
        raise HTTPException(404, f"no case {body.case_id!r} is known to the hub")
    row = {
        "hold_id": str(uuid.uuid4()),
        "person_key": person_key,
        "case_id": body.case_id,
        "reason": body.reason,
        "placed_by": caller.actor,
        "placed_at": datetime.now(UTC),
    }
    await state.store.place_hold(row)
    await _audit_hold(state, "legal-hold-placed", caller.actor, row)
    return _hold_json(row)


@router.get("/legal-holds")
async def list_legal_holds(state: State, include_released: bool = False, caller: Caller = permit(LEGAL_HOLDS)) -> Any:
    return [_hold_json(h) for h in await state.store.legal_holds(active_only=not include_released)]


@router.delete("/legal-holds/{hold_id}")
async def release_legal_hold(hold_id: str, state: State, caller: Caller = permit(LEGAL_HOLDS)) -> Any:
    if not await state.store.release_hold(hold_id, caller.actor, datetime.now(UTC)):
        raise HTTPException(404, f"no active legal hold {hold_id!r}")
    await _audit_hold(state, "legal-hold-released", caller.actor, {"hold_id": hold_id})
    return {"hold_id": hold_id, "released": True}


def _hold_json(row: dict[str, Any]) -> dict[str, Any]:
    """A hold as operators see it: the person as a pseudonym, never their key or an identifier."""
    shown = {k: v for k, v in row.items() if k != "person_key"}
    shown["person"] = pseudonym(row["person_key"]) if row.get("person_key") else None
    return jsonable_encoder(shown)


async def _audit_hold(state: HubState, action: str, actor: str, row: dict[str, Any]) -> None:
    detail = {k: row[k] for k in ("hold_id", "case_id", "reason") if row.get(k) is not None}
    record = {"audit_id": str(uuid.uuid4()), "action": action, "actor": actor, "at": datetime.now(UTC)}
    await record_operator_action(EventPublisher(state.producer, state.names), state.store, {**record, "detail": detail})


@router.get("/retention", summary="Who is due for erasure under the retention schedules today")
async def retention_due(
    state: State,
    limit: int = Query(default=100, ge=1, le=10_000, description="at most this many people due"),
    reader: Reader = reads("ops:read"),
) -> Any:
    """People appear as the erasure log's pseudonyms, with each record's kind, id and due date."""
    report = await retention_sweep(state.store, state.privacy, state.retention, state.today(), erase=False, limit=limit)
    return jsonable_encoder(report)


@router.post("/retention/sweep", summary="Erase now everyone past their retention schedule and not held")
async def retention_apply(state: State, caller: Caller = permit(ERASE)) -> Any:
    refuse_for_one_organisation(caller, "a retention sweep")
    if state.privacy is None:
        raise HTTPException(409, "this hub does not seal personal data, so the topics would keep it")
    publisher = EventPublisher(state.producer, state.names)

    async def audit(record: dict[str, Any]) -> None:
        await record_operator_action(publisher, state.store, {**record, "actor": caller.actor})

    report = await retention_sweep(state.store, state.privacy, state.retention, state.today(), erase=True, audit=audit)
    return jsonable_encoder(report)


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
