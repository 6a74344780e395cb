"""Reading what the rules judge against: cases, referrals, people and the planner's sources.

Rows become the domain's immutable state here, so no rule ever reads a row."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.identity import IdentityContext, identifiers, persons_in
from hub.domain.judging import PERSON_CONTEXT, REFERRAL_CONTEXT, case_of
from hub.domain.state import (
    AdviceRequest,
    Appeal,
    AssessmentDecision,
    CareAssessment,
    Case,
    CaseException,
    CircumstanceChange,
    Context,
    LaTransfer,
    PersonalBudget,
    PersonRecord,
    PhaseTransfer,
    Referral,
    Review,
    TransitionDetermination,
    TransitionSources,
)
from hub.store.database import Database, Row, keyed, parts
from hub.store.disclosures import disclosed_of
from hub.store.tables import (
    ALL_TABLES,
    STEP_TABLES,
    advice_requests,
    assessment_decisions,
    care_assessments,
    case_exceptions,
    cases,
    circumstance_changes,
    person_links,
    phase_transfers,
    processed_events,
    referrals,
    transition_determinations,
)
from schemas.common import Adviser, PersonRef
from schemas.events import Event, OfferedAssessment, PersonDetailsCorrected, PlanSections

T = TypeVar("T")

_OTHER_CONTEXTS = (REFERRAL_CONTEXT, PERSON_CONTEXT)
_PROCESSED = keyed(select(processed_events.c.event_id), processed_events.c.event_id)
_CASES = keyed(select(cases), cases.c.case_id)
_ADVICE_BY_CASE = keyed(select(advice_requests), advice_requests.c.case_id)
_EXCEPTIONS_BY_CASE = keyed(select(case_exceptions), case_exceptions.c.case_id)
_STEP_STATE = {"reviews": Review, "appeals": Appeal, "budgets": PersonalBudget, "la_transfers": LaTransfer}
_STEPS_BY_CASE = {
    name: (keyed(select(table), table.c.case_id), next(iter(table.primary_key.columns)).name, _STEP_STATE[name])
    for name, table in STEP_TABLES.items()
}
_TRANSFERS_BY_CASE = keyed(select(phase_transfers), phase_transfers.c.case_id)
_REFERRALS = keyed(select(referrals), referrals.c.referral_id)
_DECISIONS_BY_REFERRAL = keyed(select(assessment_decisions), assessment_decisions.c.referral_id)


class ContextReader:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def processed_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        return {r["event_id"] for r in await self.db.lookup_by(_PROCESSED, event_ids)}

    async def contexts_for(self, events: Sequence[Event]) -> tuple[dict[str, Context], IdentityContext]:
        """What the store knows about the cases, referrals and people of a set of events, keyed as
        ``case_of`` keys them."""
        keys = {c for e in events if (c := case_of(e))}
        referral_ids = sorted(k.removeprefix(REFERRAL_CONTEXT) for k in keys if k.startswith(REFERRAL_CONTEXT))
        ids = sorted({i for e in events for ref in persons_in(e) for i in identifiers(ref)})
        async with self.db.reading() as conn:
            contexts: dict[str, Context] = {}
            contexts.update(
                await self.case_contexts(sorted(k for k in keys if not k.startswith(_OTHER_CONTEXTS)), conn)
            )
            for referral_id, found in (await self.referral_contexts(referral_ids, conn)).items():
                contexts[REFERRAL_CONTEXT + referral_id] = found
            for event in events:
                if isinstance(event, PersonDetailsCorrected):
                    person = await self.person_record(identifiers(event.person), conn)
                    if person is not None:
                        contexts[PERSON_CONTEXT + event.correction_id] = person
            return contexts, await self.identity_context(ids, conn)

    async def person_record(
        self, ids: Sequence[tuple[str, str]], conn: AsyncConnection | None = None
    ) -> PersonRecord | None:
        """The one person these identifiers point at, with what the hub sent of them; None when
        they point at no one, or at more than one person."""
        known, _ = await self.identity_context(ids, conn)
        people = set(known.values())
        if len(people) != 1:
            return None
        person_key = people.pop()
        t = person_links.c
        linked = await self.db.lookup(select(t.id_type, t.id_value).where(t.person_key == person_key), conn)
        return PersonRecord(
            person_key,
            tuple(sorted((r["id_type"], r["id_value"]) for r in linked)),
            await disclosed_of(self.db, person_key),
        )

    async def case_contexts(self, case_ids: Sequence[str], conn: AsyncConnection | None = None) -> dict[str, Case]:
        """Each known case with its advice requests and exceptions: what the workflow judges the next event by."""
        found = {r["case_id"]: r for r in await self.db.lookup_by(_CASES, case_ids, conn)}
        if not found:
            return {}
        advice: dict[str, dict[str, AdviceRequest]] = {}
        for r in await self.db.lookup_by(_ADVICE_BY_CASE, case_ids, conn):
            advice.setdefault(r["case_id"], {})[r["request_id"]] = advice_request(r)
        exceptions: dict[str, list[CaseException]] = {}
        for r in await self.db.lookup_by(_EXCEPTIONS_BY_CASE, case_ids, conn):
            exceptions.setdefault(r["case_id"], []).append(case_exception(r))
        steps: dict[str, dict[str, dict[str, Any]]] = {}
        for name, (query, key, state) in _STEPS_BY_CASE.items():
            per_case = steps[name] = {}
            for r in await self.db.lookup_by(query, case_ids, conn):
                per_case.setdefault(r["case_id"], {})[r[key]] = _state(state, r)
        transfers: dict[str, list[PhaseTransfer]] = {}
        for r in await self.db.lookup_by(_TRANSFERS_BY_CASE, case_ids, conn):
            transfers.setdefault(r["case_id"], []).append(_state(PhaseTransfer, r))
        return {
            case_id: dataclasses.replace(
                case_from_row(row, advice.get(case_id, {}), tuple(exceptions.get(case_id, ()))),
                **{name: per_case.get(case_id, {}) for name, per_case in steps.items()},  # type: ignore[arg-type]
                transfers=tuple(sorted(transfers.get(case_id, ()), key=lambda t: t.transfer_date)),
            )
            for case_id, row in found.items()
        }

    async def identity_context(
        self, ids: Sequence[tuple[str, str]], conn: AsyncConnection | None = None
    ) -> IdentityContext:
        """For the given identifiers: who they point at, and which identifier types those people have."""
        t = person_links.c
        known: dict[tuple[str, str], str] = {}
        by_type: dict[str, list[str]] = {}
        for id_type, value in ids:
            by_type.setdefault(id_type, []).append(value)
        for id_type, values in by_type.items():  # a pair of columns IN a list of pairs is a full scan on SQLite
            for part in parts(values):
                query = select(t.id_value, t.person_key).where(t.id_type == id_type, t.id_value.in_(part))
                known.update({(id_type, r["id_value"]): r["person_key"] for r in await self.db.lookup(query, conn)})
        types: dict[str, set[str]] = {}
        for keys in parts(sorted(set(known.values()))):
            for r in await self.db.lookup(select(t.person_key, t.id_type).where(t.person_key.in_(keys)), conn):
                types.setdefault(r["person_key"], set()).add(r["id_type"])
        return known, types

    async def referral_contexts(
        self, referral_ids: Sequence[str], conn: AsyncConnection | None = None
    ) -> dict[str, Referral]:
        """Each known referral with the adult service's decisions so far."""
        found = {r["referral_id"]: r for r in await self.db.lookup_by(_REFERRALS, referral_ids, conn)}
        if not found:
            return {}
        decisions: dict[str, dict[str, AssessmentDecision]] = {}
        for r in await self.db.lookup_by(_DECISIONS_BY_REFERRAL, referral_ids, conn):
            decisions.setdefault(r["referral_id"], {})[r["assessment_id"]] = assessment_decision(r)
        return {rid: referral(row, decisions.get(rid, {})) for rid, row in found.items()}

    async def transition_sources(self) -> TransitionSources:
        """Everything the transition planner reads but the open cases (see ``transition_cases``):
        Care Act assessments, changes, determinations, referrals issued, the adult service's
        decisions, and which cases children's social care has given advice on."""
        csc_case_ids = frozenset(r["case_id"] for r in await self.db.rows(_CSC_CASES))
        recorded = await self.referral_sources()
        return TransitionSources(
            csc_case_ids=csc_case_ids,
            assessments=tuple(care_assessment(r) for r in await self.db.rows(select(care_assessments))),
            changes=tuple(circumstance_change(r) for r in await self.db.rows(select(circumstance_changes))),
            determinations=tuple(determination(r) for r in await self.db.rows(select(transition_determinations))),
            referrals=recorded.referrals,
            decisions=recorded.decisions,
        )

    async def transition_cases(
        self, keep_case: Callable[[Case], bool] = lambda _: True, on: date | None = None, size: int = 2000
    ) -> AsyncIterator[list[Case]]:
        """Open cases not yet referred that have an EHC plan or social care involvement, a page at
        a time, each page holding only those ``keep_case`` accepts: a store with a million open
        cases costs the planner a page of them, not every young person nearing 18."""
        involved = (
            cases.c.person_key.is_not(None),
            cases.c.person_key.not_in(select(referrals.c.person_key)),
            or_(cases.c.final_plan_date.is_not(None), cases.c.case_id.in_(_CSC_CASES)),
        )
        async for rows in self._case_pages((cases,), (_maintained(on), *involved), size):
            yield [case for case in (case_from_row(r) for r in rows) if keep_case(case)]

    async def referral_sources(self) -> TransitionSources:
        """Referrals issued and the adult service's decisions: what the transition measures count."""
        return TransitionSources(
            referrals=tuple(referral(r) for r in await self.db.rows(select(referrals))),
            decisions=tuple(assessment_decision(r) for r in await self.db.rows(select(assessment_decisions))),
        )

    async def open_case_pages(self, on: date | None = None, size: int = 500) -> AsyncIterator[list[str]]:
        """Cases whose statutory clocks may still need watching (their plan is maintained ``on`` that
        day: a decision to cease takes effect only once the time to appeal has passed), a page at a
        time: a sweep of a million cases holds one page of ids, not a million."""
        async for rows in self._case_pages((cases.c.case_id,), (_maintained(on),), size):
            yield [r["case_id"] for r in rows]

    async def _case_pages(self, columns: Sequence[Any], where: Sequence[Any], size: int) -> AsyncIterator[list[Row]]:
        """Rows of the cases matching ``where``, a page at a time in id order, each page read on its
        own so that no single read holds the event loop or a snapshot of the store for long."""
        after = ""
        while True:
            query = select(*columns).where(*where, cases.c.case_id > after).order_by(cases.c.case_id).limit(size)
            rows = await self.db.rows(query)
            if not rows:
                return
            yield rows
            after = rows[-1]["case_id"]


_CSC_CASES = select(advice_requests.c.case_id).where(
    advice_requests.c.recipient_agency == "childrens-social-care", advice_requests.c.submitted_date.is_not(None)
)
"""Cases on which children's social care has given advice: involvement that asks for a transition."""


def _maintained(on: date | None) -> Any:
    ceased = cases.c.ceased_date
    return ceased.is_(None) if on is None else or_(ceased.is_(None), ceased > on)


def _state(cls: type[T], row: Row, **converted: Any) -> T:
    """A state value from the row's columns of the same names, with the converted ones given."""
    names = _plain_fields(cls, tuple(converted))  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names}, **converted)


@functools.cache
def _plain_fields(cls: type, converted: tuple[str, ...]) -> tuple[str, ...]:
    """Fields filled straight from a column: worked out once per state class, not per row."""
    columns = {c.name for table in ALL_TABLES for c in table.columns}
    return tuple(f.name for f in dataclasses.fields(cls) if f.name in columns and f.name not in converted)


def _stored_person(data: Row) -> PersonRef:
    """A person the hub stored from an event it had validated: built without validating again,
    which would cost more than the rest of loading a case (the NHS number's check digit alone)."""
    born = data.get("date_of_birth")
    fields = {**data, "date_of_birth": date.fromisoformat(born)} if born else data
    return PersonRef.model_construct(**fields)


def case_from_row(
    row: Row, advice: dict[str, AdviceRequest] | None = None, exceptions: tuple[CaseException, ...] = ()
) -> Case:
    return _state(
        Case,
        row,
        person=_stored_person(row["person"]) if row["person"] else None,
        plan_sections=PlanSections.model_validate(row["plan_sections"]) if row["plan_sections"] else None,
        withheld_from=frozenset(row["withheld_from"] or ()),
        advice=advice or {},
        exceptions=exceptions,
    )


def advice_request(row: Row) -> AdviceRequest:
    signed_off = None if row["signed_off"] is None else bool(row["signed_off"])
    return _state(AdviceRequest, row, signed_off=signed_off, reused=row["reused"] is not None)


def case_exception(row: Row) -> CaseException:
    return _state(CaseException, row)


def care_assessment(row: Row) -> CareAssessment:
    return _state(
        CareAssessment,
        row,
        assessed_person=PersonRef.model_validate(row["assessed_person"]),
        cared_for_keys=tuple(row["cared_for_keys"]),
        cared_for=tuple(PersonRef.model_validate(p) for p in row["cared_for"]),
        assessor=Adviser.model_validate(row["assessor"]),
        material_change_flags=tuple(row["material_change_flags"]),
    )


def circumstance_change(row: Row) -> CircumstanceChange:
    return _state(CircumstanceChange, row)


def determination(row: Row) -> TransitionDetermination:
    return _state(
        TransitionDetermination,
        row,
        person=PersonRef.model_validate(row["person"]),
        childrens_services=tuple(row["childrens_services"]),
    )


def referral(row: Row, decisions: dict[str, AssessmentDecision] | None = None) -> Referral:
    offered = tuple(OfferedAssessment.model_validate(o) for o in row["offered"])
    return _state(Referral, row, offered=offered, decisions=decisions or {})


def assessment_decision(row: Row) -> AssessmentDecision:
    return _state(AssessmentDecision, row, accepted=bool(row["accepted"]))
