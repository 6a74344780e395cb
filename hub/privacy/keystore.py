"""The data keys, in the store, wrapped by the key-encryption key.

Keys are made on first use. Instances sharing a database agree on one key per id: each inserts
its candidate and keeps whichever the database holds afterwards. Unwrapped keys are cached in the
process for ``cache_seconds``, so the hot path reads the store only for ids it has not met
recently; an instance that did not destroy a key stops using it at most that long after.

A destroyed key leaves its row, with no key in it, so the erasure stays on record. Sealing for that
id again (new data about an erased person) makes a new key: what was sealed under the old one
stays unreadable.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from hub.privacy.keys import KEY_BYTES, KeyWrapper
from hub.store.database import Database, Executes, parts
from hub.store.tables import data_keys

_k = data_keys.c
_keys: Any = bindparam("keys", expanding=True)
_READ = select(_k.kid, _k.wrapped).where(_k.kid.in_(_keys))
_REVIVE = update(data_keys).where(_k.kid == bindparam("k"), _k.wrapped.is_(None))
_DESTROY = update(data_keys).where(_k.kid.in_(_keys), _k.wrapped.is_not(None))


class KeysUnavailable(Exception):
    """A data key could not be read or unwrapped (the store is down, or another KEK wrapped it)."""


class DataKeys:
    def __init__(self, db: Database, wrapper: KeyWrapper, cache_seconds: float = 60.0, cache_size: int = 50_000):
        self.db = db
        self.wrapper = wrapper
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._cache: dict[str, tuple[float, bytes | None]] = {}

    async def for_opening(self, kids: Iterable[str]) -> dict[str, bytes | None]:
        """The key of each id, or None where it was destroyed or never made."""
        return await self._get(set(kids), make=False)

    async def for_sealing(self, kids: Iterable[str]) -> dict[str, bytes]:
        """The key of each id, made now where there is none (or it was destroyed)."""
        found = await self._get(set(kids), make=True)
        return {k: v for k, v in found.items() if v is not None}

    async def destroy(self, kids: Iterable[str], conn: Executes | None = None) -> int:
        """Destroy these keys for good; returns how many were live."""
        wanted = sorted(set(kids))
        for kid in wanted:
            self._cache.pop(kid, None)
        if not wanted:
            return 0
        stmt = _DESTROY.values(wrapped=None, destroyed_at=datetime.now(UTC))

        async def run(c: Executes) -> int:
            return sum([(await c.execute(stmt, {"keys": part})).rowcount or 0 for part in parts(wanted)])

        if conn is not None:
            return await run(conn)
        async with self.db.begin() as c:
            return await run(c)

    async def _get(self, kids: set[str], *, make: bool) -> dict[str, bytes | None]:
        now = time.monotonic()
        out: dict[str, bytes | None] = {}
        wanted = []
        for kid in kids:
            hit = self._cache.get(kid)
            if hit is not None and now - hit[0] < self.cache_seconds and (hit[1] is not None or not make):
                out[kid] = hit[1]
            else:
                wanted.append(kid)
        if not wanted:
            return out
        stored = await self._read(wanted)
        missing = [k for k in wanted if stored.get(k) is None]
        if make and missing:
            await self._make(missing, stored)
            stored.update(await self._read(missing))
        if len(self._cache) + len(wanted) > self.cache_size:
            self._cache.clear()
        for kid in wanted:
            wrapped = stored.get(kid)
            key = self._unwrap(wrapped, kid) if wrapped is not None else None
            self._cache[kid] = (now, key)
            out[kid] = key
        return out

    async def _read(self, kids: list[str]) -> dict[str, bytes | None]:
        try:
            rows = [r for part in parts(sorted(kids)) for r in await self.db.lookup(_READ, params={"keys": part})]
        except Exception as exc:
            raise KeysUnavailable(f"data keys cannot be read: {type(exc).__name__}") from exc
        return {r["kid"]: r["wrapped"] for r in rows}

    async def _make(self, kids: list[str], stored: dict[str, bytes | None]) -> None:
        now = datetime.now(UTC)
        fresh = {k: self.wrapper.wrap(secrets.token_bytes(KEY_BYTES), k) for k in kids}
        new = [{"kid": k, "wrapped": w, "wrapper": self.wrapper.name, "created_at": now} for k, w in fresh.items()]

        async def write(conn: Executes) -> None:
            await conn.execute(self.db.dialect.insert(data_keys).on_conflict_do_nothing(), new)
            for kid in (k for k in kids if k in stored):  # destroyed: a new key for what comes from now on
                stmt = _REVIVE.values(wrapped=fresh[kid], wrapper=self.wrapper.name, destroyed_at=None)
                await conn.execute(stmt, {"k": kid})

        await self.db.write_together(write)

    def _unwrap(self, wrapped: bytes, kid: str) -> bytes:
        try:
            return self.wrapper.unwrap(wrapped, kid)
        except Exception as exc:
            raise KeysUnavailable(f"data key {kid[:10]} does not unwrap with {self.wrapper.name}") from exc
