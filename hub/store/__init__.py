"""The projection store over SQLite (embedded default) or PostgreSQL, split by role.

- ``EffectWriter`` writes what events establish (``hub.store.writer``);
- ``ContextReader`` reads the state the rules judge against (``hub.store.contexts``);
- ``OpsQueries`` answers operators and agencies that look things up (``hub.store.queries``);
- ``DeadLetterIndex`` indexes the dead letters and the operators' audit (``hub.store.dead_letters``);
- ``ClaimLedger`` makes a submission happen once under concurrent duplicates (``hub.store.claims``);
- ``SubjectQueries`` finds everything held on one person, for subject access (``hub.store.subjects``);
- ``LegalHolds`` keeps the holds that stop a person's erasure (``hub.store.holds``).

Each part of the hub takes the role it uses; ``Store`` is all of them over one ``Database``, as one
process opens it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.store.claims import ClaimLedger
from hub.store.contexts import ContextReader
from hub.store.database import Database
from hub.store.dead_letters import DeadLetterIndex
from hub.store.holds import LegalHolds
from hub.store.queries import OpsQueries
from hub.store.subjects import SubjectQueries
from hub.store.writer import EffectWriter


class Store(EffectWriter, ContextReader, OpsQueries, DeadLetterIndex, ClaimLedger, SubjectQueries, LegalHolds):
    def __init__(self, url: str) -> None:
        db = Database(url)
        EffectWriter.__init__(self, db)
        self.url = url

    @property
    def engine(self) -> AsyncEngine:
        return self.db.engine

    async def create_schema(self) -> None:
        await self.db.create_schema()

    async def drop_schema(self) -> None:
        await self.db.drop_schema()

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        await self.db.ping()

    async def try_leader_lock(self, conn: AsyncConnection, key: int) -> bool:
        return await self.db.dialect.try_leader_lock(conn, key)


__all__ = [
    "ClaimLedger",
    "ContextReader",
    "Database",
    "DeadLetterIndex",
    "EffectWriter",
    "LegalHolds",
    "OpsQueries",
    "Store",
    "SubjectQueries",
]
