"""Data keys in the store (hub.privacy.keystore): one key per id however many instances ask at
once, destroyed for good, and a new one for what comes after."""

from __future__ import annotations

import asyncio

import pytest

from hub.privacy.keys import LocalKeyWrapper, derive
from hub.privacy.keystore import DataKeys, KeysUnavailable
from hub.store import Store

KEK = derive(bytes(32), "kek")


async def test_two_instances_asking_at_once_agree_on_one_key_and_destruction_is_for_good(store_url: str) -> None:
    one, other = Store(store_url), Store(store_url)
    await one.create_schema()
    kids = [f"k{i}" for i in range(50)]

    async def another_instance() -> dict[str, bytes]:
        """Asking from a thread and event loop of its own, as another process would: on SQLite an
        instance's writes wait for the file's lock in its own thread of control."""
        store = Store(store_url)
        try:
            return await DataKeys(store.db, LocalKeyWrapper(KEK)).for_sealing(reversed(kids))
        finally:
            await store.close()

    try:
        a = DataKeys(one.db, LocalKeyWrapper(KEK))
        got_a, got_b = await asyncio.gather(a.for_sealing(kids), asyncio.to_thread(asyncio.run, another_instance()))
        assert got_a == got_b and len(set(got_a.values())) == 50

        assert await a.destroy(kids[:10]) == 10
        assert await a.destroy(kids[:10]) == 0, "already destroyed"
        opened = await a.for_opening(kids[:12])
        assert [opened[k] for k in kids[:10]] == [None] * 10 and opened["k10"] == got_a["k10"]
        fresh = DataKeys(other.db, LocalKeyWrapper(KEK), cache_seconds=0)
        assert (await fresh.for_opening(["k0"]))["k0"] is None, "another instance reads it destroyed"

        again = await fresh.for_sealing(["k0"])
        assert again["k0"] != got_a["k0"], "new data about an erased person gets a new key"
        assert (await fresh.for_opening(["never-made"]))["never-made"] is None
    finally:
        await one.close()
        await other.close()


async def test_keys_wrapped_by_another_key_encryption_key_say_so(store_url: str) -> None:
    store = Store(store_url)
    await store.create_schema()
    try:
        await DataKeys(store.db, LocalKeyWrapper(KEK)).for_sealing(["k1"])
        other = DataKeys(store.db, LocalKeyWrapper(derive(bytes(32), "another")))
        with pytest.raises(KeysUnavailable, match="does not unwrap"):
            await other.for_opening(["k1"])
    finally:
        await store.close()
