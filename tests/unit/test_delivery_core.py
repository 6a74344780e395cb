"""The delivery core's paths with an in-memory producer: routed, retried, dead-lettered, without a
broker. The real-broker tests show the same paths end to end; these pin down what each writes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any

from hub.pipeline import records as h
from hub.pipeline.delivery import DeliveryCore
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import Record
from hub.store import Store
from schemas.envelope import encode, envelope_for
from tests.helpers import assessment_requested, panel_outcome


class Acknowledged:
    def __init__(self, topic: str, offset: int) -> None:
        self.topic, self.partition, self.offset = topic, 0, offset


class MemoryProducer:
    """Keeps what it is given and acknowledges at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        self.sent.append((topic, value, key, headers))
        done: asyncio.Future[Acknowledged] = asyncio.get_running_loop().create_future()
        done.set_result(Acknowledged(topic, len(self.sent) - 1))
        return done

    def to(self, topic: str) -> list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]]:
        return [s for s in self.sent if s[0] == topic]


def _record(topic: str, value: bytes, offset: int, key: bytes = b"k") -> Record:
    return Record(topic, 0, offset, key, value)


async def test_routed_retried_and_dead_lettered_without_a_broker(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    producer = MemoryProducer()
    core = DeliveryCore(store, producer, names=TopicNames("p."), retry_delays=[1.0, 5.0], hub_source="/hub")
    try:
        opened = envelope_for(assessment_requested("C-1", 1), source="/la-sen/202")
        orphan = envelope_for(panel_outcome("C-UNKNOWN"), source="/la-sen/202")
        await core.handle_batch(
            [
                _record("p.ehc.assessment-requests.v1", encode(opened), 0, b"C-1"),
                _record("p.ehc.plans.v1", b"{not json", 0),
                _record("p.ehc.panel-outcomes.v1", encode(orphan), 0, b"C-UNKNOWN"),
            ]
        )

        assert await store.processed_ids([opened.id]) == {opened.id}

        [dead] = producer.to("p.hub.ops.dlq.v1")
        headers = dict(dead[3])
        assert dead[1] == b"{not json", "a dead letter is the record, unchanged"
        assert headers[h.H_STAGE] == b"validate" and headers[h.H_TOPIC] == b"p.ehc.plans.v1"
        assert core.dead_lettered == 1 and len(await store.dead_letters()) == 1

        [retried] = producer.to("p.hub.retry-1.v1")
        retry_headers = dict(retried[3])
        assert retried[1] == encode(orphan) and retry_headers[h.H_ATTEMPTS] == b"1"
        assert retry_headers[h.H_STAGE] == b"rules" and h.H_NOT_BEFORE in retry_headers
        again = Record("p.hub.retry-1.v1", 0, 0, retried[2], retried[1], tuple(retried[3]))
        assert core.due_time(again) > 0

        # The second tier, then the dead-letter topic once the tiers are used up.
        await core.handle_batch([again])
        [second] = producer.to("p.hub.retry-2.v1")
        last = Record("p.hub.retry-2.v1", 0, 0, second[2], second[1], tuple(second[3]))
        await core.handle_batch([last])
        exhausted = [d for d in producer.to("p.hub.ops.dlq.v1") if d[1] == encode(orphan)]
        assert len(exhausted) == 1
        final = dict(exhausted[0][3])
        assert final[h.H_ATTEMPTS] == b"3" and final[h.H_TOPIC] == b"p.ehc.panel-outcomes.v1"
        assert final[h.H_RULE] == b"known-case" and final[h.H_CASE_ID] == b"C-UNKNOWN"
        assert json.loads(exhausted[0][1] or b"")["id"] == orphan.id
    finally:
        await store.close()


class RefusesOneKey(MemoryProducer):
    """Acknowledges every record except the outbound copies keyed ``refused``, which it refuses."""

    def __init__(self, refused: bytes) -> None:
        super().__init__()
        self.refused = refused

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        done = await super().send(topic, value, key, headers)
        if key == self.refused and topic.startswith("out."):
            failed: asyncio.Future[Acknowledged] = asyncio.get_running_loop().create_future()
            failed.set_exception(RuntimeError("NOT_ENOUGH_REPLICAS"))
            return failed
        return done


async def test_one_refused_acknowledgement_sends_only_its_own_event_to_retry(sqlite_url: str) -> None:
    """The wave's acknowledgements are awaited together; a refusal in the middle of it must still
    be charged to the event whose record it was, and to no other."""
    store = Store(sqlite_url)
    await store.create_schema()
    producer = RefusesOneKey(b"C-2")
    core = DeliveryCore(store, producer, names=TopicNames(), retry_delays=[1.0], hub_source="/hub")
    try:
        opened = [envelope_for(assessment_requested(f"C-{n}", n), source="/la-sen/202") for n in range(1, 4)]
        await core.handle_batch(
            [_record("ehc.assessment-requests.v1", encode(e), n, e.subject.encode()) for n, e in enumerate(opened)]
        )
        assert await store.processed_ids([e.id for e in opened]) == {opened[0].id, opened[2].id}
        [retried] = producer.to("hub.retry-1.v1")
        assert retried[1] == encode(opened[1]) and dict(retried[3])[h.H_STAGE] == b"publish"

        # With no retry tier left it is dead-lettered, and indexed in the store once the wave's
        # transaction is over (inside it, the index's write would wait on that very transaction).
        last_tier = DeliveryCore(store, RefusesOneKey(b"C-5"), names=TopicNames(), retry_delays=[], hub_source="/hub")
        refused = envelope_for(assessment_requested("C-5", 5), source="/la-sen/202")
        await asyncio.wait_for(
            last_tier.handle_batch([_record("ehc.assessment-requests.v1", encode(refused), 9, b"C-5")]), 10
        )
        assert [d["event_id"] for d in await store.dead_letters()] == [refused.id]
        assert await store.processed_ids([refused.id]) == set()
    finally:
        await store.close()
