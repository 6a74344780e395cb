"""Writing what events establish. Writes for one message happen in one transaction, keyed by event
id, so applying the same event twice changes nothing (the effect-idempotence the delivery core
needs). Here, and only here, the domain's facts become rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import case, func, select, update

from hub.domain.facts import (
    AdviceProgress,
    AdviceRequestOpened,
    CaseEffect,
    Delivery,
    PersonCorrection,
    RaisedAlert,
    ReferralOffers,
    ReferralProgress,
)
from hub.domain.state import AssessmentDecision, CareAssessment, Referral, TransitionDetermination
from hub.store.database import Database, Executes, Row
from hub.store.rectification import correct_person
from hub.store.tables import (
    STEP_TABLES,
    advice_requests,
    alerts,
    assessment_decisions,
    care_assessments,
    case_exceptions,
    cases,
    circumstance_changes,
    deliveries,
    person_corrections,
    person_links,
    phase_transfers,
    processed_events,
    referrals,
    transition_determinations,
)

SET_ONCE_CASE_FIELDS = (
    "person_key",
    "la_code",
    "received_date",
    "person",
    "year_group",
    "school_code",
    "decision",
    "decision_date",
    "decision_notified_date",
    "not_issue_notified_date",
    "draft_served_date",
    "final_plan_sent_date",
    "draft_date",
    "final_plan_date",
    "ceased_date",
    "cease_decided_date",
)


class EffectWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._case_merges: dict[tuple[str, ...], Any] = {}

    async def apply(
        self, effects: Sequence[CaseEffect], confirm: Callable[[], Awaitable[set[str]]] | None = None
    ) -> int:
        """Apply effects in one transaction; those already applied are skipped. Returns how many were new.

        ``confirm``, awaited after the writes and before the commit, names the event ids whose effects
        may be kept: the delivery core waits there for the broker to acknowledge the outbound records.

        The effects of one call belong to distinct cases (the delivery core applies a batch in waves),
        so their rows are written table by table, one executemany per statement shape: per-event
        statements would cost more than everything else the hub does with an event."""
        if not effects:
            return 0
        try:
            async with self.db.writing() as conn:
                fresh = await self._claim(conn, effects)
                await self._write(conn, fresh)
                if confirm is not None:
                    kept = await confirm()
                    if any(e.event_id not in kept for e in effects):
                        raise _Withdrawn(kept)
                return len(fresh)
        except _Withdrawn as withdrawn:  # rolled back: write again without the withdrawn effects
            return await self.apply([e for e in effects if e.event_id in withdrawn.kept])

    async def record_alerts(self, raised: Sequence[RaisedAlert]) -> list[str]:
        """Insert alerts not raised before; returns the ids that are new."""
        if not raised:
            return []
        rows = [alert_row(a) for a in raised]
        async with self.db.writing() as conn:
            existing = {
                r[0]
                for r in await conn.execute(
                    select(alerts.c.alert_id).where(alerts.c.alert_id.in_([r["alert_id"] for r in rows]))
                )
            }
            fresh = [r for r in rows if r["alert_id"] not in existing]
            if fresh:
                await conn.execute(self.db.dialect.insert(alerts).on_conflict_do_nothing(), fresh)
            return [r["alert_id"] for r in fresh]

    async def _claim(self, conn: Executes, effects: Sequence[CaseEffect]) -> list[CaseEffect]:
        ids = [e.event_id for e in effects]
        done = {
            r[0]
            for r in await conn.execute(select(processed_events.c.event_id).where(processed_events.c.event_id.in_(ids)))
        }
        fresh: list[CaseEffect] = []
        for e in effects:
            if e.event_id in done:
                continue
            done.add(e.event_id)
            fresh.append(e)
        if fresh:
            await conn.execute(
                processed_events.insert(),
                [
                    {
                        "event_id": e.event_id,
                        "topic": e.topic,
                        "event_type": e.event_type,
                        "case_id": e.case_id,
                        "correlation_id": e.correlation_id,
                        "causation_id": e.causation_id,
                        "occurred_at": e.occurred_at,
                        "source": e.source,
                        "redrive_lineage": e.redrive_lineage,
                        "record_key": e.record_key,
                    }
                    for e in fresh
                ],
            )
        return fresh

    async def _write(self, conn: Executes, fresh: Sequence[CaseEffect]) -> None:
        merges: dict[tuple[str, ...], list[Row]] = {}
        for e in fresh:
            if e.case_id is not None:
                given = _case_columns(e)
                row = {
                    "case_id": e.case_id,
                    "stage_rank": e.stage_rank,
                    "event_count": 1,
                    "la_code": e.la_code,
                    "received_date": e.received_date,
                    **given,
                }
                merges.setdefault(tuple(sorted(given)), []).append(row)
        for names, rows in merges.items():
            await conn.execute(self._case_merge(names), rows)

        inserts: dict[Any, list[Row]] = {}
        for e in fresh:
            for table, rows in _inserted_rows(e):
                inserts.setdefault(table, []).extend(rows)
        for table, rows in inserts.items():
            statement = self.db.dialect.insert(table).on_conflict_do_nothing()
            for same_columns in _by_columns(rows):
                await conn.execute(statement, same_columns)

        for e in fresh:
            for progress in e.outcome.advice_progress:
                await self._advance_advice(conn, progress)
            for ack in e.outcome.referral_progress:
                await self._advance_referral(conn, ack)
            for offers in e.outcome.referral_offers:
                await self._extend_referral(conn, offers)
            for correction in e.outcome.corrections:
                await correct_person(conn, correction)
            for name, table in STEP_TABLES.items():
                for fact in getattr(e.outcome, name):
                    await self._merge_steps(conn, table, _columns(fact))

    def _case_merge(self, names: tuple[str, ...]) -> Any:
        """The case upsert for effects that set these case fields, built once per shape: replaying the
        topics in any interleaving gives the same row, as first-seen facts are kept, review dates
        take the latest, and the panel outcome and plan sections follow their dates."""
        statement = self._case_merges.get(names)
        if statement is not None:
            return statement
        ins = self.db.dialect.insert(cases)
        x = ins.excluded
        greatest = self.db.dialect.greatest
        set_: dict[str, Any] = {
            "stage_rank": greatest(cases.c.stage_rank, x.stage_rank),
            "event_count": cases.c.event_count + 1,
        }
        if "last_review_date" in names:
            set_["last_review_date"] = func.coalesce(
                greatest(cases.c.last_review_date, x.last_review_date), cases.c.last_review_date, x.last_review_date
            )
        if "plan_sections_date" in names:
            later_plan = case(
                (cases.c.plan_sections_date.is_(None), True), else_=x.plan_sections_date >= cases.c.plan_sections_date
            )
            set_["plan_sections"] = case((later_plan, x.plan_sections), else_=cases.c.plan_sections)
            set_["plan_sections_date"] = case((later_plan, x.plan_sections_date), else_=cases.c.plan_sections_date)
        if "withheld_from" in names:  # each restriction adds to those before it
            set_["withheld_from"] = x.withheld_from
        if "panel_date" in names:
            later_panel = case((cases.c.panel_date.is_(None), True), else_=x.panel_date > cases.c.panel_date)
            set_["panel_outcome"] = case((later_panel, x.panel_outcome), else_=cases.c.panel_outcome)
            set_["panel_date"] = case((later_panel, x.panel_date), else_=cases.c.panel_date)
        for name in SET_ONCE_CASE_FIELDS:
            if name in names or name in ("la_code", "received_date"):
                set_[name] = func.coalesce(cases.c[name], x[name])
        statement = ins.on_conflict_do_update(index_elements=[cases.c.case_id], set_=set_)
        self._case_merges[names] = statement
        return statement

    async def _advance_advice(self, conn: Executes, u: AdviceProgress) -> None:
        t = advice_requests.c
        values: dict[str, Any] = {}
        if u.received_date is not None:  # the earliest receipt stands
            values["received_date"] = case(
                (t.received_date.is_(None), u.received_date),
                (t.received_date > u.received_date, u.received_date),
                else_=t.received_date,
            )
        if u.task_status is not None:
            values["task_status"] = u.task_status
            values["status_reason"] = u.status_reason
        if u.submitted_date is not None:
            values["submitted_date"] = func.coalesce(t.submitted_date, u.submitted_date)
            values["submission_event_id"] = func.coalesce(t.submission_event_id, u.submission_event_id)
            values["signed_off"] = func.coalesce(t.signed_off, None if u.signed_off is None else int(u.signed_off))
        if values:
            await conn.execute(update(advice_requests).where(t.request_id == u.request_id).values(**values))

    async def _advance_referral(self, conn: Executes, u: ReferralProgress) -> None:
        r = referrals.c
        await conn.execute(
            update(referrals)
            .where(r.referral_id == u.referral_id)
            .values(
                acknowledged_date=func.coalesce(r.acknowledged_date, u.acknowledged_date),
                adult_case_id=func.coalesce(r.adult_case_id, u.adult_case_id),
                support_in_place_date=func.coalesce(r.support_in_place_date, u.support_in_place_date),
                no_eligible_needs_date=func.coalesce(r.no_eligible_needs_date, u.no_eligible_needs_date),
            )
        )

    async def _merge_steps(self, conn: Executes, table: Any, row: Row) -> None:
        """Record a step of a review, dispute or budget request: each value is kept as first
        recorded, so a step replayed or arriving twice changes nothing."""
        statement = self.db.dialect.insert(table)
        key = list(table.primary_key.columns)
        set_ = {
            name: func.coalesce(table.c[name], statement.excluded[name])
            for name in row
            if name not in table.primary_key.columns
        }
        await conn.execute(statement.on_conflict_do_update(index_elements=key, set_=set_), row)

    async def _extend_referral(self, conn: Executes, u: ReferralOffers) -> None:
        """Append offers a referral did not have (a replay offers nothing twice)."""
        r = referrals.c
        found = (await conn.execute(select(r.offered).where(r.referral_id == u.referral_id))).first()
        if found is None:
            return
        offered = list(found[0] or [])
        known = {o["assessment_id"] for o in offered}
        offered += [_json(o) for o in u.offered if o.assessment_id not in known]
        await conn.execute(update(referrals).where(r.referral_id == u.referral_id).values(offered=offered))


class _Withdrawn(Exception):
    def __init__(self, kept: set[str]) -> None:
        super().__init__("some effects were withdrawn before commit")
        self.kept = kept


def _columns(value: Any) -> Row:
    """The row of a fact whose fields are all plain columns of the same names."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _json(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True)


def _case_columns(e: CaseEffect) -> Row:
    update_ = e.outcome.case
    if update_ is None:
        return {}
    given = update_.given()
    for name in ("person", "plan_sections"):
        if name in given:
            given[name] = _json(given[name])
    if "withheld_from" in given:
        given["withheld_from"] = sorted(update_.withheld_from or ())
    return given


def _inserted_rows(e: CaseEffect) -> list[tuple[Any, list[Row]]]:
    o = e.outcome
    return [
        (advice_requests, [_advice_row(a) for a in o.advice_opened]),
        (case_exceptions, [_columns(x) for x in o.exceptions]),
        (phase_transfers, [_columns(t) for t in o.transfers]),
        (alerts, [alert_row(a) for a in e.alerts]),
        (person_links, [_columns(p) for p in e.person_links]),
        (care_assessments, [_assessment_row(a) for a in o.assessments]),
        (circumstance_changes, [_columns(c) for c in o.changes]),
        (transition_determinations, [_determination_row(d) for d in o.determinations]),
        (referrals, [_referral_row(r) for r in o.referrals]),
        (assessment_decisions, [_decision_row(d) for d in o.decisions]),
        (deliveries, [_delivery_row(e, d) for d in e.deliveries]),
        (person_corrections, [_correction_row(c) for c in o.corrections]),
    ]


def _correction_row(c: PersonCorrection) -> Row:
    return {
        "correction_id": c.correction_id,
        "person_key": c.person_key,
        "la_code": c.la_code,
        "corrected_date": c.corrected_date,
        "corrected_fields": sorted(c.values),
    }


def _advice_row(a: AdviceRequestOpened) -> Row:
    return {
        "request_id": a.request_id,
        "case_id": a.case_id,
        "advice_kind": a.advice_kind,
        "recipient_agency": a.recipient.agency.value,
        "recipient_code": a.recipient.code,
        "requested_date": a.requested_date,
        "reused": a.reused.model_dump(mode="json") if a.reused is not None else None,
        "request": _json(a.request) if a.request is not None else None,
        "review_id": a.review_id,
    }


def alert_row(raised: RaisedAlert) -> Row:
    a = raised.alert
    return {
        "alert_id": a.alert_id,
        "case_id": a.case_id,
        "kind": a.kind,
        "severity": a.severity,
        "due_date": a.due_date,
        "agency": a.organisation.agency.value if a.organisation else None,
        "organisation": a.organisation.code if a.organisation else None,
        "message": a.message,
        "raised_on": raised.raised_on,
    }


def _assessment_row(a: CareAssessment) -> Row:
    return {
        "assessment_id": a.assessment_id,
        "la_code": a.la_code,
        "assessment_type": a.assessment_type,
        "assessed_key": a.assessed_key,
        "assessed_person": _json(a.assessed_person),
        "cared_for_keys": list(a.cared_for_keys),
        "cared_for": [_json(p) for p in a.cared_for],
        "status": a.status,
        "completed_date": a.completed_date,
        "assessor": _json(a.assessor),
        "eligibility": a.eligibility,
        "material_change_flags": list(a.material_change_flags),
    }


def _determination_row(d: TransitionDetermination) -> Row:
    return {**_columns(d), "person": _json(d.person), "childrens_services": list(d.childrens_services)}


def _referral_row(r: Referral) -> Row:
    return {
        "referral_id": r.referral_id,
        "person_key": r.person_key,
        "la_code": r.la_code,
        "eighteenth_birthday": r.eighteenth_birthday,
        "issued_date": r.issued_date,
        "offered": [_json(o) for o in r.offered],
        "acknowledged_date": r.acknowledged_date,
        "adult_case_id": r.adult_case_id,
        "support_in_place_date": r.support_in_place_date,
        "no_eligible_needs_date": r.no_eligible_needs_date,
    }


def _decision_row(d: AssessmentDecision) -> Row:
    return {
        "referral_id": d.referral_id,
        "assessment_id": d.assessment_id,
        "accepted": int(d.accepted),
        "reason": d.reason,
        "decided_by": d.decided_by,
        "decision_date": d.decision_date,
        "decision_event_id": d.decision_event_id,
    }


def _delivery_row(e: CaseEffect, d: Delivery) -> Row:
    return {
        "delivery_id": d.delivery_id,
        "source_event_id": e.event_id,
        "case_id": e.case_id or e.record_key,  # as the disclosure audit files it: a referral, a correction
        "recipient": d.recipient,
        "topic": d.topic,
        "event_type": d.event_type,
        "fields": d.fields,
        "organisation": d.organisation,
        "lawful_basis": d.lawful_basis,
    }


def _by_columns(rows: Sequence[Row]) -> list[list[Row]]:
    """Rows grouped by the columns they set: an executemany binds the columns of its first row."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())
