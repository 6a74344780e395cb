"""The connection to the store's database, and the three ways its roles read it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, Index, Transaction, bindparam, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.cooperative import share_the_loop
from hub.store.dialect import Dialect, dialect_for
from hub.store.tables import heartbeat, kept, metadata

T = TypeVar("T")
IN_LIST_SIZE = 500  # keys per IN-list: SQLite allows 32,766 parameters, and a read on the loop should be short
INLINE_ROWS = 100  # rows per statement on an inline connection: an upsert of a case costs up to 0.1 ms
Row = dict[str, Any]


class Executes(Protocol):
    """What a write transaction offers: ``AsyncConnection``, or an inline SQLite connection."""

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...


class InlineConnection:
    """A synchronous connection behind the asynchronous ``execute`` the writer awaits: each
    statement runs at once in the calling thread, with no hop to a driver thread. Many rows go in
    several statements, with the event loop given a turn between them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if not isinstance(parameters, list) or len(parameters) <= INLINE_ROWS:
            result = self._conn.execute(statement, parameters)
            await share_the_loop()
            return result
        for rows in parts(parameters, INLINE_ROWS):
            self._conn.execute(statement, rows)
            await share_the_loop()
        return None


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect: Dialect = dialect_for(url)
        self.engine: AsyncEngine = create_async_engine(url, **self.dialect.engine_options())
        # Point reads on the hot paths may run on a synchronous connection in the calling thread (see lookup).
        self._inline = self.dialect.inline_engine(url)
        self._inline_conn: Connection | None = None
        self._inline_writer: Engine | None = self.dialect.inline_engine(url, autocommit=False)
        self._writer_conn: Connection | None = None
        self._writes = asyncio.Lock()
        self._waiting_writes: list[tuple[Callable[[Executes], Awaitable[Any]], asyncio.Future[Any]]] = []
        self._group_writer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction. On SQLite the process's write transactions take turns (see
        ``writing``); PostgreSQL runs them side by side."""
        if self._inline_writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writes, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Executes]:
        """A write transaction for the hot path (the effects of each wave of events). With SQLite it
        runs inline on a synchronous connection, as reads by key do: the hop to aiosqlite's thread
        for every statement cost more than the statements. A statement waiting there for SQLite's
        lock would stall the event loop, and with it whoever holds the lock across an await, so
        every write transaction of the process takes its turn behind one asyncio lock instead."""
        if self._inline_writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._writes:
            writer = self._writer()
            transaction = writer.begin()
            try:
                yield InlineConnection(writer)
                await _commit_in_thread(transaction)
            except BaseException:
                try:  # after a failed commit (a full disk) as after a failed statement: the connection is used again
                    writer.rollback()
                except Exception:
                    self._writer_conn = None
                    writer.invalidate()
                raise

    async def write_together(self, work: Callable[[Executes], Awaitable[T]]) -> T:
        """Run ``work`` in a write transaction, on SQLite shared with the work of every other request
        waiting to write at that moment: one commit, and one sync of the log to disk, for all of them.
        Each accepted request claims and settles; committed one by one, those syncs bounded a
        process to a few hundred requests a second however fast the rest was. Nothing waits for a
        group to form: what arrives while one group commits goes in the next. A failing statement
        fails the group it is in. PostgreSQL runs concurrent transactions side by side and groups
        their commits itself."""
        if self._inline_writer is None:
            async with self.writing() as conn:
                return await work(conn)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting_writes.append((work, done))
        if self._group_writer is None or self._group_writer.done():
            self._group_writer = asyncio.ensure_future(self._write_groups())
        return cast(T, await done)

    async def _write_groups(self) -> None:
        while self._waiting_writes:
            group, self._waiting_writes = self._waiting_writes, []
            try:
                async with self.writing() as conn:
                    results = [await work(conn) for work, _ in group]
            except BaseException as exc:
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc) if isinstance(exc, Exception) else done.cancel()
                if not isinstance(exc, Exception):  # stopping: nothing queued behind will be written
                    for _, waiting in self._waiting_writes:
                        waiting.cancel()
                    self._waiting_writes = []
                    raise
                continue
            for (_, done), result in zip(group, results, strict=True):
                if not done.done():
                    done.set_result(result)

    async def create_schema(self) -> None:
        async with self.begin() as conn:
            await self.dialect.prepare(conn)
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(kept.create_all)
            await conn.run_sync(add_missing_columns)
            # Indexes of columns just added, and any a rebuild cut short in its bulk load left unbuilt.
            await conn.run_sync(_each_index, [i for t in metadata.sorted_tables for i in t.indexes], "create")

    @asynccontextmanager
    async def bulk_load(self, deferred: Sequence[Index]) -> AsyncIterator[None]:
        """Refilling an empty store in bulk (``hub rebuild``). The ``deferred`` indexes are dropped
        and built once at the end: keeping them up row by row, with random keys, cost a rebuild as
        much as all its other writes. On SQLite the hot path's commits are not synced to disk on
        the way (a rebuild cut short is started again, never resumed) and the whole store is synced
        once at the end. A store left by a rebuild cut short gains its indexes when the hub starts."""
        async with self.begin() as conn:
            await conn.run_sync(_each_index, deferred, "drop")
        synchronous = None
        if self._inline_writer is not None:
            writer = self._writer()
            synchronous = writer.exec_driver_sql("PRAGMA synchronous").scalar()
            writer.exec_driver_sql("PRAGMA synchronous = OFF")
            writer.commit()
        try:
            yield
            async with self.begin() as conn:
                await conn.run_sync(_each_index, deferred, "create")
        finally:
            if self._inline_writer is not None:
                await asyncio.to_thread(self._sync_to_disk, int(synchronous if synchronous is not None else 2))

    def _sync_to_disk(self, synchronous: int) -> None:
        """The writer's usual syncing back, then the log copied into the file and the file synced:
        whatever was written unsynced is on disk afterwards."""
        writer = self._writer()
        writer.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
        writer.exec_driver_sql("PRAGMA wal_checkpoint(FULL)").all()
        writer.commit()

    def _writer(self) -> Connection:
        assert self._inline_writer is not None
        if self._writer_conn is None:
            self._writer_conn = self._inline_writer.connect()
        return self._writer_conn

    async def drop_schema(self) -> None:
        async with self.begin() as conn:
            await conn.run_sync(metadata.drop_all)

    async def ping(self) -> None:
        """A committed write: raises when the database cannot be reached, or can be read but not
        written (a full disk, a read-only replica), either of which makes the hub unable to work."""
        row = {"id": 1, "at": datetime.now(UTC)}
        async with self.begin() as conn:
            await conn.execute(
                self.dialect.insert(heartbeat).on_conflict_do_update(index_elements=["id"], set_=row), row
            )

    async def close(self) -> None:
        await self.engine.dispose()
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None
        if self._writer_conn is not None:
            self._writer_conn.close()
            self._writer_conn = None
        for engine in (self._inline, self._inline_writer):
            if engine is not None:
                engine.dispose()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection | None]:
        """One connection for several reads that belong together (the contexts of one wave of events):
        each connection checked out costs more than the small queries made on it. None where reads by
        key run inline (see lookup)."""
        if self._inline is not None:
            yield None
            return
        async with self.engine.connect() as conn:
            yield conn

    async def lookup_by(
        self, keyed: tuple[Any, Any], keys: Sequence[str], conn: AsyncConnection | None = None
    ) -> list[Row]:
        """Rows for these keys, with statements built once (see ``keyed``)."""
        one, many = keyed
        if len(keys) == 1:
            return await self.lookup(one, conn, {"key": keys[0]})
        return [r for part in parts(keys) for r in await self.lookup(many, conn, {"keys": part})]

    async def lookup(self, query: Any, conn: AsyncConnection | None = None, params: Row | None = None) -> list[Row]:
        """A read by key on a hot path (routing, FHIR and CSV ingress). With SQLite it runs at once in
        the calling thread: the query takes microseconds, while every hop to aiosqlite's thread costs
        hundreds, and such hops do not overlap however many requests wait on them. Reads by key on an
        indexed table never hold the event loop for long; scans stay on the asynchronous path."""
        if self._inline is None:
            return await self.rows(query, conn, params)
        if self._inline_conn is None:
            self._inline_conn = self._inline.connect()
        found = [dict(r._mapping) for r in self._inline_conn.execute(query, params)]
        await share_the_loop()
        return found

    async def rows(self, query: Any, conn: AsyncConnection | None = None, params: Row | None = None) -> list[Row]:
        if conn is not None:
            return [dict(r._mapping) for r in await conn.execute(query, params)]
        async with self.engine.connect() as own:
            return [dict(r._mapping) for r in await own.execute(query, params)]


def _each_index(conn: Connection, indexes: Sequence[Index], action: str) -> None:
    for index in indexes:
        getattr(index, action)(conn, checkfirst=True)


def as_utc(moment: datetime) -> datetime:
    """A timestamp read back from the store, as it was written: SQLite keeps no offset, and every
    timestamp the hub writes is in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _commit_in_thread(transaction: Transaction) -> None:
    """Commit in a worker thread: writing SQLite's log and syncing it to disk takes milliseconds,
    and tens of them on a busy disk, in which the event loop serves everyone else. The connection
    stays this transaction's until the commit has ended, even if the task waiting for it is cancelled."""
    commit = asyncio.get_running_loop().run_in_executor(None, transaction.commit)
    cancelled = False
    while not commit.done():
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    commit.result()


def keyed(query: Any, column: Any) -> tuple[Any, Any]:
    """A read by key as two statements built once: ``column = :key`` for one key, which compiles once
    and is reused as it is, and ``column IN (:keys)`` for several. Building a statement per call cost
    more than running it."""
    return query.where(column == bindparam("key")), query.where(column.in_(bindparam("keys", expanding=True)))


def parts(values: Sequence[T], size: int = IN_LIST_SIZE) -> list[list[T]]:
    """A long IN-list (or list of rows) as several short ones."""
    items = list(values)
    return [items[i : i + size] for i in range(0, len(items), size)]


def add_missing_columns(conn: Connection) -> list[str]:
    """Add the columns a newer hub declares to the tables an older one created, so a store
    survives an upgrade without a rebuild. Only nullable columns are added: the rows written
    before hold none in them until ``hub rebuild`` fills them. Instances starting together on one
    database may race to add a column; the loser finds it there and goes on."""
    inspector = inspect(conn)
    added: list[str] = []
    for table in metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        new = {c.name for c in table.columns} - have
        for column in (c for c in table.columns if c.name in new):
            if not column.nullable:
                raise RuntimeError(
                    f"the store's table {table.name} lacks {column.name}, which cannot be added to rows already "
                    "there: delete the store and run `hub rebuild`"
                )
            kind = column.type.compile(dialect=conn.dialect)
            exists = " IF NOT EXISTS" if conn.dialect.name == "postgresql" else ""
            try:  # SQLite undoes only the failed statement, so the transaction goes on
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN{exists} "{column.name}" {kind}')
            except DBAPIError as exc:
                if "duplicate column" not in str(exc):
                    raise
            added.append(f"{table.name}.{column.name}")
    return added
