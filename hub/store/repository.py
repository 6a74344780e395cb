"""The store's operations. Writes for one message happen in one transaction, keyed by event id,
so applying the same event twice changes nothing (the effect-idempotence the delivery core needs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, case, create_engine, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.store.tables import (
    ALL_TABLES,
    advice_requests,
    alerts,
    assessment_decisions,
    care_assessments,
    case_exceptions,
    cases,
    circumstance_changes,
    dead_letters,
    deliveries,
    metadata,
    ops_audit,
    person_links,
    processed_events,
    referrals,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    recipient: str
    topic: str
    event_type: str
    fields: list[str]


@dataclass(frozen=True)
class CaseEffect:
    """What one processed event does to the store."""

    event_id: str
    topic: str
    event_type: str
    occurred_at: datetime
    source: str
    correlation_id: str
    causation_id: str | None
    case_id: str | None
    la_code: str | None = None
    received_date: date | None = None
    stage_rank: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    redrive_lineage: str | None = None
    case_fields: dict[str, Any] = field(default_factory=dict)
    advice_requests: list[dict[str, Any]] = field(default_factory=list)
    advice_updates: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    person_links: list[dict[str, Any]] = field(default_factory=list)
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    referral_updates: list[dict[str, Any]] = field(default_factory=list)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        # Point reads on the hot paths run on a synchronous SQLite connection in the calling thread (see _lookup).
        self._inline: Engine | None = None
        self._inline_conn: Connection | None = None
        if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
            inline_url = url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1)
            self._inline = create_engine(
                inline_url,
                isolation_level="AUTOCOMMIT",
                connect_args={"timeout": 30, "check_same_thread": False},  # only ever used from the event loop
            )
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        self._case_merges: dict[tuple[str, ...], Any] = {}

    async def create_schema(self) -> None:
        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            await conn.run_sync(metadata.create_all)

    async def drop_schema(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None
        if self._inline is not None:
            self._inline.dispose()

    async def processed_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        return {r["event_id"] for r in await self._lookup_by(_PROCESSED, event_ids)}

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection | None]:
        """One connection for several reads that belong together (the contexts of one wave of events):
        each connection checked out costs more than the small queries made on it. None with SQLite,
        whose reads by key run inline (see _lookup)."""
        if self._inline is not None:
            yield None
            return
        async with self.engine.connect() as conn:
            yield conn

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
            async with self.engine.begin() as conn:
                fresh = await self._claim(conn, effects)
                await self._write(conn, fresh)
                if confirm is not None:
                    kept = await confirm()
                    if any(e.event_id not in kept for e in effects):
                        raise _Withdrawn(kept)
                return len(fresh)
        except _Withdrawn as withdrawn:  # rolled back: write again without the withdrawn effects
            return await self.apply([e for e in effects if e.event_id in withdrawn.kept])

    async def _claim(self, conn: AsyncConnection, effects: Sequence[CaseEffect]) -> list[CaseEffect]:
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
                    }
                    for e in fresh
                ],
            )
        return fresh

    async def _write(self, conn: AsyncConnection, fresh: Sequence[CaseEffect]) -> None:
        merges: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for e in fresh:
            if e.case_id is not None:
                row = {
                    "case_id": e.case_id,
                    "stage_rank": e.stage_rank,
                    "event_count": 1,
                    "la_code": e.la_code,
                    "received_date": e.received_date,
                    **e.case_fields,
                }
                merges.setdefault(tuple(sorted(e.case_fields)), []).append(row)
        for fields, rows in merges.items():
            await conn.execute(self._case_merge(fields), rows)

        inserts: dict[str, list[dict[str, Any]]] = {}
        for e in fresh:
            for table_name, rows in (
                (advice_requests.name, e.advice_requests),
                (case_exceptions.name, e.exceptions),
                (alerts.name, e.alerts),
                (person_links.name, e.person_links),
                *e.inserts.items(),
                (deliveries.name, [_delivery_row(e, d) for d in e.deliveries]),
            ):
                inserts.setdefault(table_name, []).extend(rows)
        for table_name, rows in inserts.items():
            statement = self._insert(metadata.tables[table_name]).on_conflict_do_nothing()
            for same_columns in _by_columns(rows):
                await conn.execute(statement, same_columns)

        for e in fresh:
            for u in e.advice_updates:
                await self._update_advice(conn, u)
            for u in e.referral_updates:
                r = referrals.c
                await conn.execute(
                    update(referrals)
                    .where(r.referral_id == u["referral_id"])
                    .values(
                        acknowledged_date=func.coalesce(r.acknowledged_date, u["acknowledged_date"]),
                        adult_case_id=func.coalesce(r.adult_case_id, u["adult_case_id"]),
                        support_in_place_date=func.coalesce(r.support_in_place_date, u.get("support_in_place_date")),
                    )
                )

    def _case_merge(self, fields: tuple[str, ...]) -> Any:
        """The case upsert for effects that set these case fields, built once per shape: replaying the
        topics in any interleaving gives the same row, as first-seen facts are kept, review dates
        take the latest, and the panel outcome and plan sections follow their dates."""
        statement = self._case_merges.get(fields)
        if statement is not None:
            return statement
        ins = self._insert(cases)
        x = ins.excluded
        dialect = self.engine.dialect.name
        set_: dict[str, Any] = {
            "stage_rank": _greatest(dialect, cases.c.stage_rank, x.stage_rank),
            "event_count": cases.c.event_count + 1,
        }
        if "last_review_date" in fields:
            set_["last_review_date"] = func.coalesce(
                _greatest(dialect, cases.c.last_review_date, x.last_review_date),
                cases.c.last_review_date,
                x.last_review_date,
            )
        if "plan_sections_date" in fields:
            later_plan = case(
                (cases.c.plan_sections_date.is_(None), True), else_=x.plan_sections_date >= cases.c.plan_sections_date
            )
            set_["plan_sections"] = case((later_plan, x.plan_sections), else_=cases.c.plan_sections)
            set_["plan_sections_date"] = case((later_plan, x.plan_sections_date), else_=cases.c.plan_sections_date)
        if "panel_date" in fields:
            later_panel = case((cases.c.panel_date.is_(None), True), else_=x.panel_date > cases.c.panel_date)
            set_["panel_outcome"] = case((later_panel, x.panel_outcome), else_=cases.c.panel_outcome)
            set_["panel_date"] = case((later_panel, x.panel_date), else_=cases.c.panel_date)
        for name in SET_ONCE_CASE_FIELDS:
            if name in fields or name in ("la_code", "received_date"):
                set_[name] = func.coalesce(cases.c[name], x[name])
        statement = ins.on_conflict_do_update(index_elements=[cases.c.case_id], set_=set_)
        self._case_merges[fields] = statement
        return statement

    async def _update_advice(self, conn: AsyncConnection, u: dict[str, Any]) -> None:
        t = advice_requests.c
        values: dict[str, Any] = {}
        if u.get("received_date") is not None:
            values["received_date"] = case(
                (t.received_date.is_(None), u["received_date"]),
                (t.received_date > u["received_date"], u["received_date"]),
                else_=t.received_date,
            )
        if u.get("task_status") is not None:
            values["task_status"] = u["task_status"]
            values["status_reason"] = u.get("status_reason")
        if u.get("submitted_date") is not None:
            values["submitted_date"] = func.coalesce(t.submitted_date, u["submitted_date"])
            values["submission_event_id"] = func.coalesce(t.submission_event_id, u["submission_event_id"])
            values["signed_off"] = func.coalesce(t.signed_off, u.get("signed_off"))
        if values:
            await conn.execute(update(advice_requests).where(t.request_id == u["request_id"]).values(**values))

    async def case_contexts(
        self, case_ids: Sequence[str], conn: AsyncConnection | None = None
    ) -> dict[str, dict[str, Any]]:
        """Each known case with its advice requests: what the workflow needs to judge the next event."""
        out = {
            r["case_id"]: {**r, "advice": {}, "exceptions": []} for r in await self._lookup_by(_CASES, case_ids, conn)
        }
        if not out:
            return out
        for r in await self._lookup_by(_ADVICE_BY_CASE, case_ids, conn):
            if r["case_id"] in out:
                out[r["case_id"]]["advice"][r["request_id"]] = r
        for r in await self._lookup_by(_EXCEPTIONS_BY_CASE, case_ids, conn):
            if r["case_id"] in out:
                out[r["case_id"]]["exceptions"].append(r)
        return out

    async def identity_context(
        self, ids: Sequence[tuple[str, str]], conn: AsyncConnection | None = None
    ) -> tuple[dict[tuple[str, str], str], dict[str, set[str]]]:
        """For the given identifiers: who they point at, and which identifier types those people have."""
        t = person_links.c
        known: dict[tuple[str, str], str] = {}
        for part in _parts(ids):
            query = select(t.id_type, t.id_value, t.person_key).where(tuple_(t.id_type, t.id_value).in_(part))
            known.update({(r["id_type"], r["id_value"]): r["person_key"] for r in await self._lookup(query, conn)})
        types: dict[str, set[str]] = {}
        for keys in _parts(sorted(set(known.values()))):
            for r in await self._lookup(select(t.person_key, t.id_type).where(t.person_key.in_(keys)), conn):
                types.setdefault(r["person_key"], set()).add(r["id_type"])
        return known, types

    async def referral_contexts(
        self, referral_ids: Sequence[str], conn: AsyncConnection | None = None
    ) -> dict[str, dict[str, Any]]:
        """Each known referral with the adult service's decisions so far."""
        out = {r["referral_id"]: {**r, "decisions": {}} for r in await self._lookup_by(_REFERRALS, referral_ids, conn)}
        if out:
            for d in await self._lookup_by(_DECISIONS_BY_REFERRAL, referral_ids, conn):
                out[d["referral_id"]]["decisions"][d["assessment_id"]] = d
        return out

    async def transition_sources(
        self, keep_case: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, list[dict[str, Any]]]:
        """Everything the transition planner reads: open cases not yet referred that have an EHC plan
        or social care involvement, Care Act assessments, changes, referrals issued, decisions.

        Cases are streamed and only those ``keep_case`` accepts are held, so a store with a million
        open cases costs the planner the memory of the few nearing 18, not of all of them."""
        csc_cases = select(advice_requests.c.case_id).where(
            advice_requests.c.recipient_agency == "childrens-social-care",
            advice_requests.c.submitted_date.is_not(None),
        )
        csc_case_ids = [r["case_id"] for r in await self._rows(csc_cases)]
        candidates = select(cases).where(
            cases.c.ceased_date.is_(None),
            cases.c.person_key.is_not(None),
            cases.c.person_key.not_in(select(referrals.c.person_key)),
            or_(cases.c.final_plan_date.is_not(None), cases.c.case_id.in_(csc_cases)),
        )
        kept: list[dict[str, Any]] = []
        async with self.engine.connect() as conn:
            async for row in await conn.stream(candidates.execution_options(yield_per=2000)):
                case_row = dict(row._mapping)
                if keep_case(case_row):
                    kept.append(case_row)
        return {
            "cases": kept,
            "csc_case_ids": csc_case_ids,
            "assessments": await self._rows(select(care_assessments)),
            "changes": await self._rows(select(circumstance_changes)),
            **await self.referral_sources(),
        }

    async def referral_sources(self) -> dict[str, list[dict[str, Any]]]:
        """Referrals issued and the adult service's decisions: what the transition measures count."""
        return {
            "referrals": await self._rows(select(referrals)),
            "decisions": await self._rows(select(assessment_decisions)),
        }

    async def open_case_ids(self) -> list[str]:
        """Cases whose statutory clocks may still need watching (not ceased)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(cases.c.case_id).where(cases.c.ceased_date.is_(None)))
            return [r[0] for r in rows]

    async def record_alerts(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        """Insert alerts not raised before; returns the ids that are new."""
        if not rows:
            return []
        async with self.engine.begin() as conn:
            existing = {
                r[0]
                for r in await conn.execute(
                    select(alerts.c.alert_id).where(alerts.c.alert_id.in_([r["alert_id"] for r in rows]))
                )
            }
            fresh = [r for r in rows if r["alert_id"] not in existing]
            if fresh:
                await conn.execute(self._insert(alerts).on_conflict_do_nothing(), fresh)
            return [r["alert_id"] for r in fresh]

    async def alerts_by_id(self, alert_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not alert_ids:
            return []
        return await self._lookup(select(alerts).where(alerts.c.alert_id.in_(list(alert_ids))))

    async def alerts(self, agency: str | None = None, case_id: str | None = None) -> list[dict[str, Any]]:
        q = select(alerts).order_by(alerts.c.raised_on, alerts.c.alert_id)
        if agency:
            q = q.where(alerts.c.agency == agency)
        if case_id:
            q = q.where(alerts.c.case_id == case_id)
        return await self._rows(q)

    async def advice_requests_for(self, recipient_code: str, pending_only: bool = True) -> list[dict[str, Any]]:
        q = select(advice_requests).where(advice_requests.c.recipient_code == recipient_code)
        if pending_only:
            q = q.where(advice_requests.c.submitted_date.is_(None), advice_requests.c.reused.is_(None))
        return await self._rows(q.order_by(advice_requests.c.requested_date, advice_requests.c.request_id))

    async def advice_request(self, request_id: str) -> dict[str, Any] | None:
        rows = await self._lookup_by(_ADVICE, [request_id])
        return rows[0] if rows else None

    async def recent_cases(self, limit: int) -> list[dict[str, Any]]:
        q = select(cases).order_by(cases.c.received_date.desc().nulls_last(), cases.c.case_id).limit(limit)
        return await self._rows(q)

    async def recent_events(self, limit: int) -> list[dict[str, Any]]:
        t = processed_events.c
        q = select(t.event_id, t.event_type, t.case_id, t.occurred_at, t.source).order_by(t.occurred_at.desc())
        return await self._rows(q.limit(limit))

    async def cases_rows(self, la_code: str | None = None) -> list[dict[str, Any]]:
        q = select(cases).order_by(cases.c.case_id)
        if la_code:
            q = q.where(cases.c.la_code == la_code)
        return await self._rows(q)

    async def try_leader_lock(self, conn: AsyncConnection, key: int) -> bool:
        """PostgreSQL advisory lock for work that must run on one instance; SQLite is single-instance."""
        if self.engine.dialect.name != "postgresql":
            return True
        return bool((await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar_one())

    async def record_dead_letter(self, row: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(self._insert(dead_letters).values(**row).on_conflict_do_nothing())

    async def record_ops_audit(self, row: dict[str, Any]) -> bool:
        """Record an operator action once; a redrive also bumps its dead letter's redrive count."""
        async with self.engine.begin() as conn:
            result = await conn.execute(self._insert(ops_audit).values(**row).on_conflict_do_nothing())
            if result.rowcount and row["action"] == "redrive":
                await conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dlq_id == row["detail"]["dlq_id"])
                    .values(redrive_count=dead_letters.c.redrive_count + 1)
                )
            return bool(result.rowcount)

    async def dead_letters(self, case_id: str | None = None, pending_only: bool = False) -> list[dict[str, Any]]:
        q = select(dead_letters).order_by(dead_letters.c.dlq_partition, dead_letters.c.dlq_offset)
        if case_id:
            q = q.where(dead_letters.c.case_id == case_id)
        if pending_only:
            q = q.where(dead_letters.c.redrive_count == 0)
        return await self._rows(q)

    async def case(self, case_id: str) -> dict[str, Any] | None:
        rows = await self._rows(select(cases).where(cases.c.case_id == case_id))
        return rows[0] if rows else None

    async def trace(self, case_id: str) -> dict[str, Any]:
        """Everything the hub knows happened to one case: events in, deliveries out, dead letters."""
        return {
            "case": await self.case(case_id),
            "events": await self._rows(
                select(processed_events)
                .where(processed_events.c.case_id == case_id)
                .order_by(processed_events.c.occurred_at, processed_events.c.event_id)
            ),
            "deliveries": await self._rows(
                select(deliveries).where(deliveries.c.case_id == case_id).order_by(deliveries.c.delivery_id)
            ),
            "dead_letters": await self.dead_letters(case_id),
        }

    async def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for table in ALL_TABLES:
                out[table.name] = int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        return out

    async def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table in a stable order: used to prove a rebuild equals the live store."""
        out = {}
        for table in ALL_TABLES:
            pk = list(table.primary_key.columns)
            out[table.name] = await self._rows(select(table).order_by(*pk))
        return out

    async def _lookup_by(
        self, keyed: tuple[Any, Any], keys: Sequence[str], conn: AsyncConnection | None = None
    ) -> list[dict[str, Any]]:
        """Rows for these keys, with statements built once (see _keyed)."""
        one, many = keyed
        if len(keys) == 1:
            return await self._lookup(one, conn, {"key": keys[0]})
        return [r for part in _parts(keys) for r in await self._lookup(many, conn, {"keys": part})]

    async def _lookup(
        self, query: Any, conn: AsyncConnection | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A read by key on a hot path (routing, FHIR and CSV ingress). With SQLite it runs at once in
        the calling thread: the query takes microseconds, while every hop to aiosqlite's thread costs
        hundreds, and such hops do not overlap however many requests wait on them. Reads by key on an
        indexed table never hold the event loop for long; scans stay on the asynchronous path."""
        if self._inline is None:
            return await self._rows(query, conn, params)
        if self._inline_conn is None:
            self._inline_conn = self._inline.connect()
        return [dict(r._mapping) for r in self._inline_conn.execute(query, params)]

    async def _rows(
        self, query: Any, conn: AsyncConnection | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        if conn is not None:
            return [dict(r._mapping) for r in await conn.execute(query, params)]
        async with self.engine.connect() as own:
            return [dict(r._mapping) for r in await own.execute(query, params)]


def _keyed(query: Any, column: Any) -> tuple[Any, Any]:
    """A read by key as two statements built once: ``column = :key`` for one key, which compiles once
    and is reused as it is, and ``column IN (:keys)`` for several. Building a statement per call cost
    more than running it."""
    return query.where(column == bindparam("key")), query.where(column.in_(bindparam("keys", expanding=True)))


_PROCESSED = _keyed(select(processed_events.c.event_id), processed_events.c.event_id)
_CASES = _keyed(select(cases), cases.c.case_id)
_ADVICE = _keyed(select(advice_requests), advice_requests.c.request_id)
_ADVICE_BY_CASE = _keyed(select(advice_requests), advice_requests.c.case_id)
_EXCEPTIONS_BY_CASE = _keyed(select(case_exceptions), case_exceptions.c.case_id)
_REFERRALS = _keyed(select(referrals), referrals.c.referral_id)
_DECISIONS_BY_REFERRAL = _keyed(select(assessment_decisions), assessment_decisions.c.referral_id)

SET_ONCE_CASE_FIELDS = (
    "person_key",
    "la_code",
    "received_date",
    "person",
    "year_group",
    "decision",
    "decision_date",
    "draft_date",
    "final_plan_date",
    "ceased_date",
)


IN_LIST_SIZE = 5000  # SQLite allows 32,766 bound parameters per statement; a CSV import may name 100,000 cases


class _Withdrawn(Exception):
    def __init__(self, kept: set[str]) -> None:
        super().__init__("some effects were withdrawn before commit")
        self.kept = kept


def _parts(values: Sequence[T]) -> list[list[T]]:
    """A long IN-list as several short ones."""
    items = list(values)
    return [items[i : i + IN_LIST_SIZE] for i in range(0, len(items), IN_LIST_SIZE)]


def _by_columns(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by the columns they set: an executemany binds the columns of its first row."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _delivery_row(e: CaseEffect, d: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "source_event_id": e.event_id,
        "case_id": e.case_id,
        "recipient": d.recipient,
        "topic": d.topic,
        "event_type": d.event_type,
        "fields": d.fields,
    }


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)


__all__ = ["CaseEffect", "Delivery", "Store"]
