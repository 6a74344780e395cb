"""The dispatcher's bookkeeping in the store: one row per record and recipient system, one lane per
recipient system. A recipient's backlog lives here rather than in a consumer's position on a topic,
so one that is down parks its own rows while every other recipient's keep moving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, exists, func, or_, select, update

from adapters.channels import recipient_of
from hub.store.database import Database, Row, as_utc
from hub.store.tables import deliveries, dispatch_lanes, dispatches
from schemas.common import Agency

if TYPE_CHECKING:
    from hub.privacy.service import Privacy

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SHOWN = [c for c in dispatches.c if c.name not in {"value", "headers", "key", "partition", "offset"}]


@dataclass(frozen=True)
class Settled:
    """What became of one row in one attempt."""

    seq: int
    status: str  # DELIVERED, PENDING (to try again) or DEAD
    answer: int | None
    error: str | None


class DispatchTable:
    """Every row it returns has its timestamps in UTC, on SQLite as on PostgreSQL."""

    def __init__(self, db: Database, privacy: Privacy | None = None) -> None:
        self.db = db
        self.privacy = privacy

    async def _rows(self, query: Any) -> list[Row]:
        """Rows with each record's value opened for its recipient, where it was sealed (``erased``
        says a person in it was erased since). ``stored`` keeps the value as it is on the topic, the
        only form in which it may be written to Kafka again (a dead letter)."""
        rows = [_utc(row) for row in await self.db.rows(query)]
        for row in rows:
            if row.get("value") is not None:
                row["stored"] = row["value"]
                if self.privacy is not None:
                    row["value"], row["erased"] = await self.privacy.open_bytes(row["value"])
        return rows

    async def opened_for(
        self, recipients: Sequence[str], agency: str, docs: Sequence[Row]
    ) -> list[tuple[Row, bool] | None]:
        """Records an organisation read from its own Kafka topic, each opened for it with whether a
        person in it was erased since: each one the hub disclosed to ``recipients``
        (``<agency>:<code>``) or, where the copy named no organisation, to the caller's ``agency``;
        None for any other. The disclosure record, not the document, says whose a record is."""
        ids = [str(d.get("id")) for d in docs]
        rows = await self.db.rows(
            select(deliveries.c.delivery_id, deliveries.c.recipient, deliveries.c.organisation).where(
                deliveries.c.delivery_id.in_(ids)
            )
        )
        mine = {
            r["delivery_id"]
            for r in rows
            if (r["organisation"] is not None and recipient_of(Agency(r["recipient"]), r["organisation"]) in recipients)
            or (r["organisation"] is None and r["recipient"] == agency)
        }
        allowed = [dict(d) for d, i in zip(docs, ids, strict=True) if i in mine]
        opened = iter(await self.privacy.open(allowed) if self.privacy is not None else [(d, False) for d in allowed])
        return [next(opened) if i in mine else None for i in ids]

    async def add(self, rows: list[Row], lanes: dict[str, str], redriven: Sequence[str] = ()) -> None:
        """Rows for records not seen before (a record consumed twice adds nothing); a redriven record
        makes its dead row pending again. ``lanes`` names each pushed-to recipient's channel."""
        async with self.db.begin() as conn:
            if rows:
                await conn.execute(self.db.dialect.insert(dispatches).on_conflict_do_nothing(), rows)
            if lanes:
                values = [
                    {"recipient": r, "channel": c, "lease_until": 0.0, "parked_until": 0.0} for r, c in lanes.items()
                ]
                await conn.execute(self.db.dialect.insert(dispatch_lanes).on_conflict_do_nothing(), values)
            if redriven:
                await conn.execute(
                    update(dispatches)
                    .where(dispatches.c.dispatch_id.in_(list(redriven)), dispatches.c.status == DEAD)
                    .values(status=PENDING, last_error=None)
                )

    async def due_lanes(self, now: float, owner: str) -> list[tuple[str, str]]:
        """Recipients with rows to push that no other instance holds and that are not parked."""
        backlog = exists().where(dispatches.c.recipient == dispatch_lanes.c.recipient, dispatches.c.status == PENDING)
        query = select(dispatch_lanes.c.recipient, dispatch_lanes.c.channel).where(
            dispatch_lanes.c.parked_until <= now,
            or_(dispatch_lanes.c.owner == owner, dispatch_lanes.c.lease_until < now),
            backlog,
        )
        return [(r["recipient"], r["channel"]) for r in await self._rows(query)]

    async def claim(self, recipient: str, owner: str, now: float, until: float) -> int | None:
        """Hold a recipient's lane until ``until``, unless another instance holds it now. Returns
        how many times in a row delivering to it has failed, or None if it is not ours."""
        lane_row = dispatch_lanes.c.recipient == recipient
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(dispatch_lanes)
                .where(lane_row, or_(dispatch_lanes.c.owner == owner, dispatch_lanes.c.lease_until < now))
                .values(owner=owner, lease_until=until)
            )
            if not result.rowcount:
                return None
            failures = (await conn.execute(select(dispatch_lanes.c.failures).where(lane_row))).scalar_one()
        return int(failures)

    async def release(self, recipients: list[str], owner: str) -> None:
        """Let other instances take these lanes at once (an instance stopping)."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(dispatch_lanes)
                .where(dispatch_lanes.c.recipient.in_(recipients), dispatch_lanes.c.owner == owner)
                .values(lease_until=0.0)
            )

    async def pending(self, recipient: str, limit: int) -> list[Row]:
        query = (
            select(dispatches)
            .where(dispatches.c.recipient == recipient, dispatches.c.status == PENDING)
            .order_by(dispatches.c.seq)
            .limit(limit)
        )
        return await self._rows(query)

    async def settle(self, outcomes: list[Settled], at: datetime) -> None:
        """Record one round of attempts in one transaction."""
        if not outcomes:
            return
        seq: Any = bindparam("b_seq")
        async with self.db.begin() as conn:
            await conn.execute(
                update(dispatches)
                .where(dispatches.c.seq == seq)
                .values(
                    status=bindparam("b_status"),
                    answer=bindparam("b_answer"),
                    last_error=bindparam("b_error"),
                    delivered_at=bindparam("b_delivered"),
                    attempts=dispatches.c.attempts + 1,
                    last_attempt_at=at,
                    first_failure=func.coalesce(dispatches.c.first_failure, bindparam("b_failed")),
                ),
                [
                    {
                        "b_seq": o.seq,
                        "b_status": o.status,
                        "b_answer": o.answer,
                        "b_error": o.error,
                        "b_delivered": at if o.status == DELIVERED else None,
                        "b_failed": None if o.status == DELIVERED else at,
                    }
                    for o in outcomes
                ],
            )

    async def park(self, recipient: str, delays: Sequence[float], error: str, at: datetime) -> Row:
        """Hold a recipient's rows for the next delay of its backoff; returns the lane, with how long
        it has been failing and until when it is parked."""
        lane_row = dispatch_lanes.c.recipient == recipient
        async with self.db.begin() as conn:
            await conn.execute(
                update(dispatch_lanes)
                .where(lane_row)
                .values(
                    failures=dispatch_lanes.c.failures + 1,
                    failing_since=func.coalesce(dispatch_lanes.c.failing_since, at),
                    last_error=error,
                )
            )
            lane = _utc(dict((await conn.execute(select(dispatch_lanes).where(lane_row))).one()._mapping))
            lane["delay"] = delays[min(lane["failures"] - 1, len(delays) - 1)]
            lane["parked_until"] = at.timestamp() + lane["delay"]
            await conn.execute(update(dispatch_lanes).where(lane_row).values(parked_until=lane["parked_until"]))
        return lane

    async def mark_alerted(self, recipient: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(dispatch_lanes).where(dispatch_lanes.c.recipient == recipient).values(alerted=True)
            )

    async def recovered(self, recipient: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(dispatch_lanes)
                .where(dispatch_lanes.c.recipient == recipient, dispatch_lanes.c.failures > 0)
                .values(failures=0, failing_since=None, parked_until=0.0, last_error=None, alerted=False)
            )

    async def taken(self, seqs: list[int], at: datetime) -> None:
        """Rows a recipient fetched itself (a FHIR search) count as delivered."""
        if seqs:
            await self._pulled(at, dispatches.c.seq.in_(seqs))

    async def waiting_for(
        self, recipients: list[str], channel: str, after: int, limit: int, *, include_taken: bool = False
    ) -> list[Row]:
        """A pulling organisation's records in order, from just after ``after`` (a row's ``seq``)."""
        statuses = [PENDING, DELIVERED] if include_taken else [PENDING]
        query = (
            select(dispatches)
            .where(
                dispatches.c.recipient.in_(recipients),
                dispatches.c.channel == channel,
                dispatches.c.status.in_(statuses),
                dispatches.c.seq > after,
            )
            .order_by(dispatches.c.seq)
            .limit(limit)
        )
        return await self._rows(query)

    async def acknowledge(self, recipients: list[str], dispatch_ids: list[str], at: datetime) -> int:
        """Mark a pulling organisation's own rows delivered; another's rows are not touched."""
        return await self._pulled(
            at, dispatches.c.recipient.in_(recipients), dispatches.c.dispatch_id.in_(dispatch_ids)
        )

    async def _pulled(self, at: datetime, *which: Any) -> int:
        """Pending rows the recipient has taken itself, marked delivered; how many."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(dispatches)
                .where(*which, dispatches.c.status == PENDING)
                .values(status=DELIVERED, delivered_at=at, attempts=dispatches.c.attempts + 1, last_attempt_at=at)
            )
        return int(result.rowcount or 0)

    async def backlog(self) -> list[Row]:
        """Per recipient system: its channel, how many records are waiting, delivered and dead, the
        oldest waiting and the last delivered, and whether its lane is failing."""
        by_status = select(
            dispatches.c.recipient,
            dispatches.c.channel,
            dispatches.c.status,
            func.count().label("n"),
            func.min(dispatches.c.created_at).label("oldest"),
            func.max(dispatches.c.delivered_at).label("latest"),
        ).group_by(dispatches.c.recipient, dispatches.c.channel, dispatches.c.status)
        lanes = {r["recipient"]: r for r in await self._rows(select(dispatch_lanes))}
        out: dict[tuple[str, str], Row] = {}
        for r in await self._rows(by_status):
            lane = lanes.get(r["recipient"], {})
            row = out.setdefault(
                (r["recipient"], r["channel"]),
                {
                    "recipient": r["recipient"],
                    "channel": r["channel"],
                    PENDING: 0,
                    DELIVERED: 0,
                    DEAD: 0,
                    "oldest_pending": None,
                    "last_delivered_at": None,
                    "failing_since": lane.get("failing_since"),
                    "last_error": lane.get("last_error"),
                    "parked_until": lane.get("parked_until") or None,
                    "unreachable_alert": bool(lane.get("alerted")),
                },
            )
            row[r["status"]] = r["n"]
            if r["status"] == PENDING:
                row["oldest_pending"] = r["oldest"]
            if r["status"] == DELIVERED:
                row["last_delivered_at"] = r["latest"]
        return [out[k] for k in sorted(out)]

    async def for_case(self, case_id: str) -> list[Row]:
        query = select(*SHOWN).where(dispatches.c.case_id == case_id).order_by(dispatches.c.seq)
        return await self._rows(query)

    async def rows_by_id(self, dispatch_ids: list[str]) -> list[Row]:
        query = select(dispatches).where(dispatches.c.dispatch_id.in_(dispatch_ids)).order_by(dispatches.c.seq)
        return await self._rows(query)


def _utc(row: Row) -> Row:
    return {k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
