"""The delivery engine against real HTTP receivers on loopback and a real SQLite store, without a
broker: what a refusal, a give-up, a redrive and a second instance each do."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from datetime import date
from typing import Any

from pydantic import SecretStr

from adapters.common import Submission
from adapters.webhooks import WebhookChannel
from hub.dispatch.engine import Dispatcher
from hub.dispatch.table import DispatchTable
from hub.pipeline import records as h
from hub.pipeline.failures import FailurePath
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import Record
from hub.settings import DispatchSettings
from hub.store import Store
from tests.helpers import eventually
from tests.servers import AgencyEndpoint, serving

SECRET = SecretStr("whsec_" + base64.b64encode(b"unit-test-signing-key-000000001").decode())


class Copied:
    def __init__(self, offset: int) -> None:
        self.partition, self.offset = 0, offset


class MemoryPublisher:
    """Keeps the dead letters the engine writes."""

    def __init__(self) -> None:
        self.names = TopicNames("")
        self.copies: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def copy(self, topic: str, value: bytes | None, key: bytes | None, headers: Any) -> Awaitable[Copied]:
        self.copies.append((topic, value, list(headers)))
        done: asyncio.Future[Copied] = asyncio.get_running_loop().create_future()
        done.set_result(Copied(len(self.copies) - 1))
        return done


class NoEvents:
    async def submit_many(self, submissions: list[Submission]) -> list[Any]:
        return []


def record(n: int, case_id: str, school: str, *, headers: tuple[tuple[str, bytes], ...] = ()) -> Record:
    event = {
        "specversion": "1.0",
        "id": f"ev-{n}",
        "type": "uk.ehc-hub.assessment-requested.v1",
        "source": "/ehc-hub",
        "data": {"case_id": case_id, "la_code": "202"},
    }
    recipient = (("hub-recipient", b"school"), ("hub-recipient-org", school.encode()))
    return Record("out.school.v1", 0, n, case_id.encode(), json.dumps(event).encode(), recipient + headers)


@contextlib.asynccontextmanager
async def engine(
    store: Store, endpoints: dict[str, str], publisher: MemoryPublisher, **settings: Any
) -> AsyncIterator[Dispatcher]:
    config = DispatchSettings(
        webhook_secrets={code: SECRET for code in endpoints}, retry_delays_seconds=[0.1], **settings
    )
    dispatcher = Dispatcher(
        DispatchTable(store.db),
        [WebhookChannel(endpoints, config.webhook_secrets)],
        FailurePath(store, publisher, ()),  # type: ignore[arg-type]
        NoEvents(),
        lambda: date(2026, 3, 1),
        config,
    )
    running = asyncio.create_task(dispatcher.run_forever())
    try:
        yield dispatcher
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await dispatcher.close()


async def _store(url: str) -> Store:
    store = Store(url)
    await store.create_schema()
    return store


async def test_a_refusal_is_dead_lettered_at_once_naming_the_recipient_and_a_redrive_delivers_it(
    sqlite_url: str,
) -> None:
    store, publisher = await _store(sqlite_url), MemoryPublisher()
    school = AgencyEndpoint()
    school.fail_next, school.fail_status = 1, 422
    async with serving(school.app) as url, engine(store, {"100001": url}, publisher) as dispatcher:
        await dispatcher.intake([record(1, "C-1", "100001"), record(2, "C-2", "100001")])

        async def dead_lettered() -> bool:
            return bool(publisher.copies) and len(school.received) == 1

        await eventually(dead_lettered)
        [(topic, value, headers)] = publisher.copies
        named = dict(headers)
        assert topic == "hub.ops.dlq.v1" and value == record(1, "C-1", "100001").value
        assert named[h.H_RULE] == b"recipient-refused" and named[h.H_FIELD] == b"school:100001"
        assert named[h.H_TOPIC] == b"out.school.v1" and named[h.H_STAGE] == b"dispatch"
        assert b"answered 422" in named[h.H_EXC_MESSAGE]
        assert school.received[0]["id"] == "ev-2", "the other case went on"
        [row] = [r for r in await dispatcher.table.for_case("C-1")]
        assert row["status"] == "dead"

        # The operator's redrive puts the record back on its topic with a lineage header.
        await dispatcher.intake([record(1, "C-1", "100001", headers=(h.lineage_header(by="ops"),))])

        async def redelivered() -> bool:
            return len(school.received) == 2

        await eventually(redelivered)
        assert school.received[1]["id"] == "ev-1"
    await store.close()


async def test_a_record_still_undelivered_after_the_give_up_time_is_dead_lettered(sqlite_url: str) -> None:
    store, publisher = await _store(sqlite_url), MemoryPublisher()
    async with engine(store, {"100001": "http://127.0.0.1:9/unreachable"}, publisher, give_up_after_seconds=0.5) as d:
        await d.intake([record(1, "C-1", "100001")])

        async def given_up() -> bool:
            return bool(publisher.copies)

        await eventually(given_up, timeout=10)
        named = dict(publisher.copies[0][2])
        assert named[h.H_RULE] == b"recipient-unreachable" and named[h.H_FIELD] == b"school:100001"
        [lane] = [r for r in await d.table.backlog() if r["recipient"] == "school:100001"]
        assert (lane["dead"], lane["pending"]) == (1, 0) and lane["failing_since"] is not None
    await store.close()


async def test_an_unreachable_recipient_raises_the_operator_alert_once_its_time_is_up(sqlite_url: str) -> None:
    store, publisher = await _store(sqlite_url), MemoryPublisher()
    async with engine(store, {"100001": "http://127.0.0.1:9/down"}, publisher, alert_after_seconds=0.3) as d:
        await d.intake([record(1, "C-1", "100001")])

        async def alerted() -> bool:
            return any(r["unreachable_alert"] for r in await d.table.backlog())

        await eventually(alerted, timeout=10)
    await store.close()


async def test_two_instances_deliver_each_record_once_and_each_case_in_order(sqlite_url: str) -> None:
    store = await _store(sqlite_url)
    school = AgencyEndpoint()
    records = [record(n, f"C-{n % 7}", "100001") for n in range(300)]
    async with (
        serving(school.app) as url,
        engine(store, {"100001": url}, MemoryPublisher()) as one,
        engine(store, {"100001": url}, MemoryPublisher()) as two,
    ):
        await asyncio.gather(one.intake(records[:150]), two.intake(records[:150]))
        await asyncio.gather(one.intake(records[150:]), two.intake(records[150:]))

        async def all_delivered() -> bool:
            return len(school.received) >= 300

        await eventually(all_delivered, timeout=60)
        await asyncio.sleep(0.5)
    ids = [body["id"] for body in school.received]
    assert len(ids) == len(set(ids)) == 300, "each record once, though both instances took it in"
    for case in range(7):
        sent = [f"ev-{n}" for n in range(300) if n % 7 == case]
        assert [i for i in ids if i in set(sent)] == sent, f"case C-{case} in order"
    await store.close()
