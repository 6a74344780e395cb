"""The store's schema across a rebuild's bulk load, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from hub.store import Store
from hub.store.tables import REPLAY_UNREAD_INDEXES, alerts, deliveries, processed_events

DEFERRED = {i.name for i in REPLAY_UNREAD_INDEXES}


async def _indexes(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {
                i["name"] for t in (processed_events, deliveries, alerts) for i in inspect(c).get_indexes(t.name)
            }
        )


async def test_a_bulk_load_builds_its_deferred_indexes_at_the_end(store_url: str) -> None:
    store = Store(store_url)
    try:
        await store.create_schema()
        async with store.db.bulk_load(REPLAY_UNREAD_INDEXES):
            assert await _indexes(store) == set(), "written without them"
        assert await _indexes(store) == DEFERRED
    finally:
        await store.close()


async def test_a_store_left_by_a_rebuild_cut_short_gains_its_indexes_when_the_hub_starts(store_url: str) -> None:
    store = Store(store_url)
    try:
        await store.create_schema()
        with pytest.raises(RuntimeError):
            async with store.db.bulk_load(REPLAY_UNREAD_INDEXES):
                raise RuntimeError("the rebuild was stopped")
        assert await _indexes(store) == set()
        await store.create_schema()
        assert await _indexes(store) == DEFERRED
    finally:
        await store.close()
