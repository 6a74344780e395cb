"""Operations on personal data's lifetime: erasing a person, legal holds that stop it, and the
retention schedules that call for it. Each change is audited on the operator audit topic, with
people named by pseudonyms, never identifiers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from adapters.access import ERASE, LEGAL_HOLDS, Caller, Reader, permit, reads, refuse_for_one_organisation
from hub.auth.pseudonyms import pseudonym
from hub.domain.identity import IdKey
from hub.http.state import HubState, State
from hub.ops.audit import record_operator_action
from hub.ops.subject_access import IdentifierRefused, IdentifierType, subject_identifier
from hub.pipeline.publisher import EventPublisher
from hub.privacy.erasure import Ground, UnderLegalHold, erase_person, erasure_audit
from hub.privacy.retention import retention_sweep
from hub.privacy.service import Privacy

router = APIRouter(prefix="/ops", tags=["privacy"])


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
    privacy = _sealing(state)
    identifier, person_key = await _person(
        state, body.identifier_type, body.identifier, body.la_code, " (or they were erased before)"
    )
    try:
        erasure = await erase_person(state.store, privacy, person_key, actor=caller.actor, reason=body.reason)
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
    refuse_for_one_organisation(caller, "a legal hold")
    if (body.identifier is None) == (body.case_id is None):
        raise HTTPException(422, "name either a person (identifier_type and identifier) or a case (case_id)")
    person_key = None
    if body.identifier is not None:
        _, person_key = await _person(state, body.identifier_type or "nhs_number", body.identifier, body.la_code)
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
    refuse_for_one_organisation(caller, "the list of legal holds")
    return [_hold_json(h) for h in await state.store.legal_holds(active_only=not include_released)]


@router.delete("/legal-holds/{hold_id}")
async def release_legal_hold(hold_id: str, state: State, caller: Caller = permit(LEGAL_HOLDS)) -> Any:
    refuse_for_one_organisation(caller, "a legal hold")
    if not await state.store.release_hold(hold_id, caller.actor, datetime.now(UTC)):
        raise HTTPException(404, f"no active legal hold {hold_id!r}")
    await _audit_hold(state, "legal-hold-released", caller.actor, {"hold_id": hold_id})
    return {"hold_id": hold_id, "released": True}


def _sealing(state: HubState) -> Privacy:
    """The hub's sealing, without which an erasure would leave every copy on the topics."""
    if state.privacy is None:
        raise HTTPException(
            409,
            "this hub does not seal personal data (HUB_PRIVACY__SEAL_PERSONAL_DATA), so the "
            "topics would keep what an erasure removed from the store",
        )
    return state.privacy


async def _person(
    state: HubState, id_type: IdentifierType, value: str, la_code: str | None, unknown_since: str = ""
) -> tuple[IdKey, str]:
    """The identifier, checked as every record's are, and the person it points at: 422 or 404 else."""
    try:
        identifier = subject_identifier(id_type, value, la_code)
    except IdentifierRefused as exc:
        raise HTTPException(422, f"identifier: {exc}") from None
    person_key = await state.store.person_key_for(*identifier)
    if person_key is None:
        raise HTTPException(404, f"no person with that identifier is known to the hub{unknown_since}")
    return identifier, person_key


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
    refuse_for_one_organisation(reader.caller, "the retention report")
    report = await retention_sweep(state.store, state.privacy, state.retention, state.today(), erase=False, limit=limit)
    return jsonable_encoder(report)


@router.post("/retention/sweep", summary="Erase now everyone past their retention schedule and not held")
async def retention_apply(state: State, caller: Caller = permit(ERASE)) -> Any:
    refuse_for_one_organisation(caller, "a retention sweep")
    privacy = _sealing(state)
    publisher = EventPublisher(state.producer, state.names)

    async def audit(record: dict[str, Any]) -> None:
        await record_operator_action(publisher, state.store, {**record, "actor": caller.actor})

    report = await retention_sweep(state.store, privacy, state.retention, state.today(), erase=True, audit=audit)
    return jsonable_encoder(report)
