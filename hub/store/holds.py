"""Legal holds: a person or a case whose records must not be erased (litigation, an inquiry, a
complaint to the Ombudsman), whatever their retention schedule or a request says. Holds are the
operators' own records, not derived from the topics, so a rebuild keeps them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from hub.store.database import Database, Row
from hub.store.tables import legal_holds, person_links

_h = legal_holds.c


class LegalHolds:
    db: Database

    async def place_hold(self, row: dict[str, Any]) -> None:
        async with self.db.begin() as conn:
            await conn.execute(insert(legal_holds), [row])

    async def release_hold(self, hold_id: str, by: str, at: datetime) -> bool:
        async with self.db.begin() as conn:
            done = await conn.execute(
                update(legal_holds)
                .where(_h.hold_id == hold_id, _h.released_at.is_(None))
                .values(released_by=by, released_at=at)
            )
        return bool(done.rowcount)

    async def holds_on(self, person_key: str, case_ids: Sequence[str], conn: Any = None) -> list[Row]:
        """The active holds that stop erasing this person (read in ``conn``, an erasure's
        transaction, so the check and the erasure see the same holds)."""
        query = (
            select(legal_holds)
            .where(_h.released_at.is_(None), or_(_h.person_key == person_key, _h.case_id.in_(list(case_ids))))
            .order_by(_h.placed_at)
        )
        if conn is None:
            return await self.db.rows(query)
        return [dict(r._mapping) for r in await conn.execute(query)]

    async def legal_holds(self, active_only: bool = True) -> list[Row]:
        query = select(legal_holds).order_by(_h.placed_at)
        if active_only:
            query = query.where(_h.released_at.is_(None))
        return await self.db.rows(query)

    async def person_keys_after(self, after: str | None, limit: int) -> list[str]:
        """Every linked person, a page at a time in key order: what a retention sweep walks."""
        query = select(person_links.c.person_key).distinct().order_by(person_links.c.person_key).limit(limit)
        if after is not None:
            query = query.where(person_links.c.person_key > after)
        return [r["person_key"] for r in await self.db.rows(query)]
