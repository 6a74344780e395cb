"""What operators and agencies look up: alerts, advice requests to fetch, cases, a case's trace,
counts, and a whole snapshot. Plain rows, for answering over HTTP and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from hub.store.database import Database, Row, keyed
from hub.store.tables import ALL_TABLES, advice_requests, alerts, cases, dead_letters, deliveries, processed_events

_ADVICE = keyed(select(advice_requests), advice_requests.c.request_id)


class OpsQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def alerts_by_id(self, alert_ids: Sequence[str]) -> list[Row]:
        if not alert_ids:
            return []
        return await self.db.lookup(select(alerts).where(alerts.c.alert_id.in_(list(alert_ids))))

    async def alerts(self, agency: str | None = None, case_id: str | None = None) -> list[Row]:
        q = select(alerts).order_by(alerts.c.raised_on, alerts.c.alert_id)
        if agency:
            q = q.where(alerts.c.agency == agency)
        if case_id:
            q = q.where(alerts.c.case_id == case_id)
        return await self.db.rows(q)

    async def advice_requests_for(self, recipient_code: str, pending_only: bool = True) -> list[Row]:
        q = select(advice_requests).where(advice_requests.c.recipient_code == recipient_code)
        if pending_only:
            q = q.where(advice_requests.c.submitted_date.is_(None), advice_requests.c.reused.is_(None))
        return await self.db.rows(q.order_by(advice_requests.c.requested_date, advice_requests.c.request_id))

    async def advice_request(self, request_id: str) -> Row | None:
        rows = await self.db.lookup_by(_ADVICE, [request_id])
        return rows[0] if rows else None

    async def recent_cases(self, limit: int) -> list[Row]:
        q = select(cases).order_by(cases.c.received_date.desc().nulls_last(), cases.c.case_id).limit(limit)
        return await self.db.rows(q)

    async def recent_events(self, limit: int) -> list[Row]:
        t = processed_events.c
        q = select(t.event_id, t.event_type, t.case_id, t.occurred_at, t.source).order_by(t.occurred_at.desc())
        return await self.db.rows(q.limit(limit))

    async def cases_rows(self, la_code: str | None = None) -> list[Row]:
        q = select(cases).order_by(cases.c.case_id)
        if la_code:
            q = q.where(cases.c.la_code == la_code)
        return await self.db.rows(q)

    async def case(self, case_id: str) -> Row | None:
        rows = await self.db.rows(select(cases).where(cases.c.case_id == case_id))
        return rows[0] if rows else None

    async def trace(self, case_id: str) -> Row:
        """Everything the hub knows happened to one case: events in, deliveries out, dead letters."""
        return {
            "case": await self.case(case_id),
            "events": await self.db.rows(
                select(processed_events)
                .where(processed_events.c.case_id == case_id)
                .order_by(processed_events.c.occurred_at, processed_events.c.event_id)
            ),
            "deliveries": await self.db.rows(
                select(deliveries).where(deliveries.c.case_id == case_id).order_by(deliveries.c.delivery_id)
            ),
            "dead_letters": await self.db.rows(
                select(dead_letters)
                .where(dead_letters.c.case_id == case_id)
                .order_by(dead_letters.c.dlq_partition, dead_letters.c.dlq_offset)
            ),
        }

    async def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        async with self.db.engine.connect() as conn:
            for table in ALL_TABLES:
                out[table.name] = int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        return out

    async def snapshot(self) -> dict[str, list[Row]]:
        """Every row of every table in a stable order: used to prove a rebuild equals the live store."""
        out = {}
        for table in ALL_TABLES:
            pk = list(table.primary_key.columns)
            out[table.name] = await self.db.rows(select(table).order_by(*pk))
        return out
