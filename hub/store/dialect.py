"""What differs between the two databases the store runs on, one class each.

SQLite is the embedded default: one process, WAL journal, and point reads run inline on a
synchronous connection. PostgreSQL is for several instances: advisory locks elect the one that
runs once-only work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

SCHEMA_LOCK_KEY = 0x45484300  # "EHC" + 0: creating the schema, one instance at a time
SQLITE_CACHE_KIB = 64 * 1024  # per hot-path connection; SQLite's default of 2 MiB held too little of a large store


class Dialect:
    name = ""

    def engine_options(self) -> dict[str, Any]:
        return {}

    def insert(self, table: Any) -> Any:
        """An INSERT that can say ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        raise NotImplementedError

    def greatest(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    async def prepare(self, conn: AsyncConnection) -> None:
        """Per-database settings applied when the schema is created."""

    async def try_leader_lock(self, conn: AsyncConnection, key: int) -> bool:
        """Take the lock for work that must run on one instance at a time, if free."""
        raise NotImplementedError

    def inline_engine(self, url: str, autocommit: bool = True) -> Engine | None:
        """A synchronous engine for the calling thread, where that is cheaper: point reads
        (autocommit) and the hot path's write transactions."""
        return None


class SqliteDialect(Dialect):
    name = "sqlite"

    def engine_options(self) -> dict[str, Any]:
        return {"connect_args": {"timeout": 30}}

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.max(a, b)

    async def prepare(self, conn: AsyncConnection) -> None:
        await conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    async def try_leader_lock(self, conn: AsyncConnection, key: int) -> bool:
        return True  # one process owns an SQLite file

    def inline_engine(self, url: str, autocommit: bool = True) -> Engine | None:
        if not url.startswith("sqlite+aiosqlite:///") or ":memory:" in url:
            return None
        engine = create_engine(
            url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1),
            isolation_level="AUTOCOMMIT" if autocommit else "SERIALIZABLE",
            connect_args={"timeout": 30, "check_same_thread": False},  # only ever used from the event loop
        )

        def on_connect(dbapi_connection: Any, _: Any) -> None:
            """A page cache large enough for the indexes the hot path writes: event ids and case ids
            are random keys, so with the default cache each insert into a store of a few hundred
            thousand events read its pages back from the file."""
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            cursor.close()

        event.listen(engine, "connect", on_connect)
        return engine


class PostgresDialect(Dialect):
    name = "postgresql"

    def insert(self, table: Any) -> Any:
        return postgresql.insert(table)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.greatest(a, b)

    async def prepare(self, conn: AsyncConnection) -> None:
        """Instances starting together would race to create the same tables (and fail on the
        catalogue's unique index): the first takes this lock, the rest wait and find them made."""
        await conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))

    async def try_leader_lock(self, conn: AsyncConnection, key: int) -> bool:
        return bool((await conn.execute(select(func.pg_try_advisory_lock(key)))).scalar_one())


def dialect_for(url: str) -> Dialect:
    if url.startswith("sqlite"):
        return SqliteDialect()
    if url.startswith("postgresql"):
        return PostgresDialect()
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
