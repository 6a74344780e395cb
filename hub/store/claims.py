"""Claims that make a submission happen once, even when duplicates arrive at the same moment, at
one hub instance or at several sharing a database: whoever inserts a claim key first publishes;
an identical request waits for that outcome and gives the same answer; a different event that
wants a key already held (a second answer to one advice request) is refused at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from hub.store.database import Database, Executes, as_utc, parts
from hub.store.tables import claims

PENDING, PUBLISHED = "pending", "published"

# The statements of every accepted request, built once: building them per call cost more than running them.
_c = claims.c
_keys: Any = bindparam("keys", expanding=True)
_TAKE_STALE = (
    update(claims)
    .where(_c.claim_key.in_(_keys), _c.state == PENDING, _c.token != bindparam("other"))
    .where(_c.claimed_at < bindparam("before"))
    .values(token=bindparam("other"), claimed_at=bindparam("at"))
)
_HOLDERS = select(_c.claim_key, _c.event_id, _c.token, _c.state).where(_c.claim_key.in_(_keys))
_PUBLISHED = update(claims).where(_c.token == bindparam("held_by")).values(state=PUBLISHED)
_GIVEN_UP = delete(claims).where(_c.token == bindparam("held_by"), _c.state == PENDING)


@dataclass(frozen=True)
class Claim:
    event_id: str
    token: str
    state: str


class ClaimLedger:
    """Every accepted request claims and then settles: both are short write transactions on the
    accepting path, so they run where the store writes fastest, committed together with those of
    the requests arriving alongside (``Database.write_together``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @cached_property
    def _insert(self) -> Any:
        return self.db.dialect.insert(claims).on_conflict_do_nothing()

    async def claim(self, token: str, wanted: Mapping[str, str], stale_after: float) -> dict[str, Claim]:
        """Claim each key for its event id under ``token``; returns who holds every key now. A
        pending claim older than ``stale_after`` seconds (its holder died before publishing) passes
        to this token, so a retry is never blocked for good."""
        if not wanted:
            return {}
        now = datetime.now(UTC)
        rows = [
            {"claim_key": k, "event_id": e, "token": token, "state": PENDING, "claimed_at": now}
            for k, e in wanted.items()
        ]
        stale_before = now - timedelta(seconds=stale_after)

        async def take(conn: Executes) -> dict[str, Claim]:
            await conn.execute(self._insert, rows)
            held: dict[str, Claim] = {}
            for keys in parts(sorted(wanted)):
                await conn.execute(_TAKE_STALE, {"keys": keys, "other": token, "before": stale_before, "at": now})
                for r in await conn.execute(_HOLDERS, {"keys": keys}):
                    held[r.claim_key] = Claim(r.event_id, r.token, r.state)
            return held

        return await self.db.write_together(take)

    async def settle(self, token: str, published: bool) -> None:
        """Mark this token's claims published, or give them up so a retry can take them."""

        async def mark(conn: Executes) -> None:
            await conn.execute(_PUBLISHED if published else _GIVEN_UP, {"held_by": token})

        await self.db.write_together(mark)

    async def holders(self, keys: Sequence[str]) -> dict[str, Claim]:
        c = claims.c
        rows = await self.db.rows(select(c.claim_key, c.event_id, c.token, c.state).where(c.claim_key.in_(list(keys))))
        return {r["claim_key"]: Claim(r["event_id"], r["token"], r["state"]) for r in rows}

    async def claimed_at(self, key: str) -> datetime | None:
        """When a key was first claimed (for an event: when the hub first accepted it)."""
        found = await self.db.lookup(select(claims.c.claimed_at).where(claims.c.claim_key == key))
        return as_utc(found[0]["claimed_at"]) if found else None
