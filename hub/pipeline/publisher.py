"""The one way the hub's records reach Kafka.

Every publishing site names a topic by its catalogue (logical) name; the publisher makes it the
cluster's name, sets the key and the content type, and hands the record to the producer. What it
returns is the producer's future of the broker's acknowledgement, so callers choose when to wait:
the delivery core sends a whole batch before waiting, an audit waits at once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from hub.cooperative import share_the_loop
from schemas.envelope import Envelope, encode
from schemas.events import Event

if TYPE_CHECKING:
    from hub.privacy.service import Privacy

Headers = Sequence[tuple[str, bytes]]


class Producer(Protocol):
    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class TopicNames:
    """Maps the catalogue's logical names to the cluster's names (a prefix isolates tenants and tests)."""

    prefix: str = ""

    def physical(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def logical(self, physical: str) -> str:
        return physical.removeprefix(self.prefix)


CLOUDEVENTS = ("content-type", b"application/cloudevents+json")
JSON = ("content-type", b"application/json")


class EventPublisher:
    def __init__(self, producer: Producer, names: TopicNames, privacy: Privacy | None = None) -> None:
        self.producer = producer
        self.names = names
        self.privacy = privacy

    async def envelope(self, topic: str, envelope: Envelope, key: str, headers: Headers = ()) -> Awaitable[Any]:
        """A CloudEvent in structured mode on ``topic``, its personal parts sealed where configured."""
        [value] = await self.values([envelope])
        return await self.cloudevent(topic, value, key, headers)

    async def events(self, batch: Sequence[tuple[Event, Envelope]]) -> list[Awaitable[Any]]:
        """Canonical events on their own topics, sealed together: one read of the data keys for all."""
        values = await self.values([envelope for _, envelope in batch])
        sent = []
        for (event, _), value in zip(batch, values, strict=True):
            await share_the_loop()
            sent.append(await self.cloudevent(event.topic, value, event.key()))
        return sent

    async def values(self, envelopes: Sequence[Envelope]) -> list[bytes]:
        """Envelopes as their records are written: sealed where personal data is sealed."""
        if self.privacy is None:
            return [encode(e) for e in envelopes]
        docs = []
        for e in envelopes:
            await share_the_loop()
            docs.append(e.model_dump(mode="json", exclude_none=True))
        return [orjson.dumps(d) for d in await self.privacy.seal(docs)]

    async def cloudevent(self, topic: str, value: bytes, key: str, headers: Headers = ()) -> Awaitable[Any]:
        """A CloudEvent already written as JSON, in structured mode on ``topic``."""
        return await self.producer.send(self.names.physical(topic), value, key.encode(), [CLOUDEVENTS, *headers])

    async def event(self, event: Event, envelope: Envelope, headers: Headers = ()) -> Awaitable[Any]:
        """A canonical event on its own topic, keyed by its case (or person, referral, ...)."""
        return await self.envelope(event.topic, envelope, event.key(), headers)

    async def document(self, topic: str, key: str, doc: dict[str, Any]) -> Awaitable[Any]:
        """A plain JSON record, such as an operator audit."""
        return await self.producer.send(
            self.names.physical(topic), json.dumps(doc, default=str).encode(), key.encode(), [JSON]
        )

    async def copy(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers) -> Awaitable[Any]:
        """A record exactly as it was, with the given headers: retries, dead letters, redrives."""
        return await self.producer.send(self.names.physical(topic), value, key, list(headers))
