"""The index of the dead-letter topic and the operators' audit trail: what can be redriven, and who did."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.store.database import Database, Row
from hub.store.tables import dead_letters, ops_audit


class DeadLetterIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_dead_letter(self, row: Row) -> None:
        async with self.db.begin() as conn:
            await conn.execute(self.db.dialect.insert(dead_letters).values(**row).on_conflict_do_nothing())

    async def record_ops_audit(self, row: Row) -> bool:
        """Record an operator action once; a redrive also bumps its dead letter's redrive count."""
        async with self.db.begin() as conn:
            result = await conn.execute(self.db.dialect.insert(ops_audit).values(**row).on_conflict_do_nothing())
            if result.rowcount and row["action"] == "redrive":
                await conn.execute(
                    update(dead_letters)
                    .where(dead_letters.c.dlq_id == row["detail"]["dlq_id"])
                    .values(redrive_count=dead_letters.c.redrive_count + 1)
                )
            return bool(result.rowcount)

    async def dead_letters(self, case_id: str | None = None, pending_only: bool = False) -> list[Row]:
        q = select(dead_letters).order_by(dead_letters.c.dlq_partition, dead_letters.c.dlq_offset)
        if case_id:
            q = q.where(dead_letters.c.case_id == case_id)
        if pending_only:
            q = q.where(dead_letters.c.redrive_count == 0)
        return await self.db.rows(q)
