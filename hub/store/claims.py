"""Claims that make a submission happen once, even when duplicates arrive at the same moment, at
one hub instance or at several sharing a database: whoever inserts a claim key first publishes;
an identical request waits for that outcome and gives the same answer; a different event that
wants a key already held (a second answer to one advice request) is refused at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from hub.store.database import Database, as_utc, parts
from hub.store.tables import claims

PENDING, PUBLISHED = "pending", "published"


@dataclass(frozen=True)
class Claim:
    event_id: str
    token: str
    state: str


class ClaimLedger:
    """Every accepted request claims and then settles: both are short write transactions on the
    accepting path, so they run where the store writes fastest (``Database.writing``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        async with self.db.writing() as conn:
            await conn.execute(self.db.dialect.insert(claims).on_conflict_do_nothing(), rows)
            c = claims.c
            for keys in parts(sorted(wanted)):
                await conn.execute(
                    update(claims)
                    .where(
                        c.claim_key.in_(keys),
                        c.state == PENDING,
                        c.token != token,
                        c.claimed_at < now - timedelta(seconds=stale_after),
                    )
                    .values(token=token, claimed_at=now)
                )
            held: dict[str, Claim] = {}
            for keys in parts(sorted(wanted)):
                for r in await conn.execute(
                    select(c.claim_key, c.event_id, c.token, c.state).where(c.claim_key.in_(keys))
                ):
                    held[r.claim_key] = Claim(r.event_id, r.token, r.state)
        return held

    async def settle(self, token: str, published: bool) -> None:
        """Mark this token's claims published, or give them up so a retry can take them."""
        async with self.db.writing() as conn:
            held = claims.c.token == token
            if published:
                await conn.execute(update(claims).where(held).values(state=PUBLISHED))
            else:
                await conn.execute(delete(claims).where(held, claims.c.state == PENDING))

    async def holders(self, keys: Sequence[str]) -> dict[str, Claim]:
        c = claims.c
        rows = await self.db.rows(select(c.claim_key, c.event_id, c.token, c.state).where(c.claim_key.in_(list(keys))))
        return {r["claim_key"]: Claim(r["event_id"], r["token"], r["state"]) for r in rows}

    async def claimed_at(self, key: str) -> datetime | None:
        """When a key was first claimed (for an event: when the hub first accepted it)."""
        found = await self.db.lookup(select(claims.c.claimed_at).where(claims.c.claim_key == key))
        return as_utc(found[0]["claimed_at"]) if found else None
