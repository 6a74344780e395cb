"""The store's operations. Writes for one message happen in one transaction, keyed by event id,
so applying the same event twice changes nothing (the effect-idempotence the delivery core needs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.store.tables import ALL_TABLES, cases, dead_letters, deliveries, metadata, ops_audit, processed_events


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


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

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

    async def processed_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(processed_events.c.event_id).where(processed_events.c.event_id.in_(list(event_ids)))
            )
            return {r[0] for r in rows}

    async def apply(self, effects: Sequence[CaseEffect]) -> int:
        """Apply effects in one transaction; those already applied are skipped. Returns how many were new."""
        if not effects:
            return 0
        async with self.engine.begin() as conn:
            fresh = await self._claim(conn, effects)
            for effect in fresh:
                await self._apply_one(conn, effect)
            return len(fresh)

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

    async def _apply_one(self, conn: AsyncConnection, e: CaseEffect) -> None:
        if e.case_id is not None:
            ins = self._insert(cases).values(
                case_id=e.case_id,
                la_code=e.la_code,
                received_date=e.received_date,
                stage_rank=e.stage_rank,
                event_count=1,
            )
            # Commutative merge, so replaying topics in any interleaving gives the same row.
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[cases.c.case_id],
                    set_={
                        "la_code": func.coalesce(cases.c.la_code, ins.excluded.la_code),
                        "received_date": func.coalesce(cases.c.received_date, ins.excluded.received_date),
                        "stage_rank": _greatest(self.engine.dialect.name, cases.c.stage_rank, ins.excluded.stage_rank),
                        "event_count": cases.c.event_count + 1,
                    },
                )
            )
        if e.deliveries:
            await conn.execute(
                self._insert(deliveries).on_conflict_do_nothing(),
                [
                    {
                        "delivery_id": d.delivery_id,
                        "source_event_id": e.event_id,
                        "case_id": e.case_id,
                        "recipient": d.recipient,
                        "topic": d.topic,
                        "event_type": d.event_type,
                        "fields": d.fields,
                    }
                    for d in e.deliveries
                ],
            )

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

    async def _rows(self, query: Any) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(r._mapping) for r in await conn.execute(query)]


def _greatest(dialect: str, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)


def table_names() -> list[str]:
    return [t.name for t in ALL_TABLES]


__all__ = ["CaseEffect", "Delivery", "Store", "Table", "table_names"]
