"""Sealing and opening with the data keys at hand: what the publisher, the delivery core, the
rebuild and the dispatcher call. Each reads the store once for all the keys a batch needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from hub.cooperative import share_the_loop
from hub.privacy.keys import blind_index, key_wrapper, master_secret
from hub.privacy.keystore import DataKeys
from hub.privacy.sealing import Sealer, parts_of
from hub.settings import PrivacySettings
from hub.store.database import Database

Document = dict[str, Any]


class Privacy:
    def __init__(self, sealer: Sealer, keys: DataKeys) -> None:
        self.sealer = sealer
        self.keys = keys

    @classmethod
    def configured(cls, settings: PrivacySettings, db: Database) -> Privacy | None:
        """The privacy of this deployment, or None where personal data is not sealed."""
        if not settings.seal_personal_data:
            return None
        master = master_secret(settings)
        return cls(Sealer(blind_index(master)), DataKeys(db, key_wrapper(settings, master), settings.key_cache_seconds))

    async def seal(self, docs: Sequence[Document]) -> list[Document]:
        """The documents sealed, their keys made or loaded at once: a thousand people new to the hub
        (a CSV import) cost one transaction, not a thousand. A thousand documents are tens of
        milliseconds of work, so it gives way to the loop as it goes."""
        plans = []
        for d in docs:
            await share_the_loop()
            plans.append(self.sealer.plan(d))
        keys = await self.keys.for_sealing({kid for plan in plans for kid in plan})
        sealed = []
        for d, plan in zip(docs, plans, strict=True):
            await share_the_loop()
            sealed.append(self.sealer.seal(d, keys, plan) if plan else d)
        return sealed

    async def open(self, docs: Sequence[Document]) -> list[tuple[Document, bool]]:
        """Each document opened, with whether some of it stayed sealed (its key destroyed)."""
        kids = {kid for d in docs for kid, _ in parts_of(d)}
        keys = await self.keys.for_opening(kids) if kids else {}
        opened = []
        for d in docs:
            await share_the_loop()
            opened.append(self.sealer.open(d, keys))
        return opened

    async def open_bytes(self, raw: bytes) -> tuple[bytes, bool]:
        """A record value opened; anything that is not a sealed CloudEvent comes back as it was."""
        if b'"sealed"' not in raw:
            return raw, False
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw, False
        if not isinstance(doc, dict):
            return raw, False
        opened, erased = (await self.open([doc]))[0]
        return orjson.dumps(opened), erased
