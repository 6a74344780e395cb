"""The delivery core's paths with an in-memory producer: routed, retried, dead-lettered, without a
broker. The real-broker tests show the same paths end to end; these pin down what each writes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from hub.pipeline import records as h
from hub.pipeline.delivery import DeliveryCore, lanes_by_case
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import Accepted, Origin, Record
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


def test_lanes_keep_each_case_whole_and_in_arrival_order() -> None:
    events = [envelope_for(assessment_requested(f"C-{n % 5}", n), source="/la-sen/202") for n in range(40)]
    accepted = [
        Accepted(r := _record("t", b"", n), Origin.of(r), e, assessment_requested(e.subject))
        for n, e in enumerate(events)
    ]
    lanes = lanes_by_case(accepted, 3)
    cases = {f"C-{n}" for n in range(5)}
    assert 1 < len(lanes) <= 3 and sum(map(len, lanes)) == len(accepted)
    for lane in lanes:
        assert [a.origin.offset for a in lane] == sorted(a.origin.offset for a in lane), "arrival order"
    owners = {case: {i for i, lane in enumerate(lanes) for a in lane if a.envelope.subject == case} for case in cases}
    assert all(len(found) == 1 for found in owners.values()), "a case is never split between lanes"
    assert lanes_by_case(accepted, 1) == [accepted]


async def test_a_batch_routed_in_lanes_gives_what_one_lane_gives(tmp_path: Path) -> None:
    """Side by side or one after another, each case's events are judged in order against the
    effects of the last: the records sent for each case, and the store, come out the same."""
    batch = []
    for n in range(12):
        opened = envelope_for(assessment_requested(f"L-{n}", n), source="/la-sen/202")
        batch.append(_record("ehc.assessment-requests.v1", encode(opened), 2 * n, opened.subject.encode()))
        again = envelope_for(assessment_requested(f"L-{n}", n + 100), source="/la-sen/202")  # the case known now
        batch.append(_record("ehc.assessment-requests.v1", encode(again), 2 * n + 1, again.subject.encode()))
    results = []
    for lanes in (1, 4):
        store = Store(f"sqlite+aiosqlite:///{tmp_path / f'lanes-{lanes}.db'}")
        await store.create_schema()
        producer = MemoryProducer()
        core = DeliveryCore(store, producer, names=TopicNames(), retry_delays=[1.0], hub_source="/hub", lanes=lanes)
        try:
            await core.handle_batch(batch)
            per_case: dict[bytes | None, list[tuple[str, bytes | None]]] = {}
            for topic, value, key, _ in producer.sent:
                per_case.setdefault(key, []).append((topic, value))
            snapshot = await store.snapshot()
            results.append((per_case, {t: sorted(map(str, rows)) for t, rows in snapshot.items()}, core.processed))
        finally:
            await store.close()
    assert results[0][2] == 24
    assert results[0] == results[1]


class FailsForOneCase(Store):
    async def contexts_for(self, events: Any) -> Any:
        if any(getattr(e, "case_id", None) == "F-3" for e in events):
            raise RuntimeError("database unavailable")
        await asyncio.sleep(0.05)
        return await super().contexts_for(events)


async def test_a_lane_that_fails_fails_the_batch_and_stops_the_others(sqlite_url: str) -> None:
    """The batch is then read again whole; no lane is left running behind it."""
    store = FailsForOneCase(sqlite_url)
    await store.create_schema()
    core = DeliveryCore(store, MemoryProducer(), names=TopicNames(), retry_delays=[1.0], hub_source="/hub", lanes=4)
    opened = [envelope_for(assessment_requested(f"F-{n}", n), source="/la-sen/202") for n in range(8)]
    before = asyncio.all_tasks()
    try:
        with pytest.raises(RuntimeError, match=r"^database unavailable$"):  # the failure itself, not a group
            await core.handle_batch(
                [_record("ehc.assessment-requests.v1", encode(e), n, e.subject.encode()) for n, e in enumerate(opened)]
            )
        assert asyncio.all_tasks() == before, "no lane left running"
        assert core.processed == 0
    finally:
        await store.close()
