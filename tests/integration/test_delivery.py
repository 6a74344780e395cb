"""Delivery guarantees, shown against a real Kafka broker."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import inspect

from hub.ops import dlq
from hub.ops.rebuild import rebuild
from hub.pipeline import records
from hub.store import Store
from hub.store.tables import REPLAY_UNREAD_INDEXES, alerts, deliveries, processed_events
from schemas.envelope import Envelope
from tests.helpers import (
    disclosures,
    eventually,
    isolated_settings,
    open_cases,
    panel_outcome,
    producer,
    running_hub,
    send_event,
    topic_records,
)

pytestmark = pytest.mark.kafka


async def test_crash_half_way_redelivers_and_the_effect_happens_once(kafka: str, store_url: str) -> None:
    settings = isolated_settings(store_url)
    crashed: list[str] = []

    def crash_after_publishing(stage: str, envelope: Envelope) -> None:
        # Outbound records are already on Kafka when the store step crashes: the worst moment.
        if stage == "store" and envelope.subject == "CASE-CRASH" and "panel" in envelope.type and not crashed:
            crashed.append(envelope.id)
            raise RuntimeError("simulated crash between publish and store")

    async with running_hub(settings, kafka, stage_hook=crash_after_publishing) as hub, producer(kafka) as p:
        await open_cases(hub.store, p, settings, ["CASE-CRASH"])
        event_id = await send_event(p, settings, panel_outcome("CASE-CRASH"))

        async def applied() -> bool:
            return bool(await hub.store.processed_ids([event_id]))

        await eventually(applied)
        assert crashed == [event_id]
        trace = await hub.store.trace("CASE-CRASH")
        assert trace["case"]["event_count"] == 2, "the request and the panel outcome, each once"
        assert len(trace["events"]) == 2
        panel = [d for d in trace["deliveries"] if d["source_event_id"] == event_id]
        assert sorted(d["recipient"] for d in panel) == ["childrens-social-care", "nhs", "school"]
        nhs = await topic_records(kafka, settings.topic_prefix + "out.nhs.v1")
        ids = {json.loads(r.value or b"")["id"] for r in nhs}
        assert len(ids) == 1, "a redelivered event must carry the same outbound id"
        assert {json.loads(r.value or b"")["causationid"] for r in nhs} == {event_id}


async def test_poison_message_is_dead_lettered_while_the_partition_flows_and_redrives_once(
    kafka: str, store_url: str
) -> None:
    settings = isolated_settings(store_url, topic_partitions=1)
    broken = {"on": True}
    poison_case = "CASE-POISON"

    def fail_poison(stage: str, envelope: Envelope) -> None:
        if broken["on"] and envelope.subject == poison_case and "panel" in envelope.type and stage == "publish":
            raise ConnectionError("recipient topic unavailable")

    async with running_hub(settings, kafka, stage_hook=fail_poison) as hub, producer(kafka) as p:
        await open_cases(hub.store, p, settings, [poison_case, *(f"CASE-{i}" for i in range(1000))])
        topic = settings.topic_prefix + "ehc.panel-outcomes.v1"
        # Not JSON, and with a binary header that a text-only parser would choke on.
        await p.send_and_wait(topic, b"\x00not json at all", key=b"CASE-0", headers=[("trace", b"\xff\xfe")])
        poison_id = await send_event(p, settings, panel_outcome(poison_case))
        behind = [await send_event(p, settings, panel_outcome(f"CASE-{i}")) for i in range(1000)]

        async def all_behind_done() -> bool:
            return len(await hub.store.processed_ids(behind)) == 1000

        await eventually(all_behind_done, timeout=120)

        async def both_dead() -> bool:
            return len(await hub.store.dead_letters()) == 2

        await eventually(both_dead)
        assert not await hub.store.processed_ids([poison_id])

        dead = await dlq.dead_letter_records(kafka, hub.names)
        by_stage = {r.header(records.H_STAGE): r for r in dead}
        not_json, failed = by_stage["validate"], by_stage["publish"]
        assert not_json.value == b"\x00not json at all", "the dead letter holds the record unchanged"
        assert ("trace", b"\xff\xfe") in not_json.headers
        assert not_json.header(records.H_ATTEMPTS) == "1", "an invalid record is not retried"
        assert not_json.header(records.H_RULE) == "json"
        for name in (
            records.H_TOPIC,
            records.H_PARTITION,
            records.H_OFFSET,
            records.H_STAGE,
            records.H_EXC_CLASS,
            records.H_EXC_MESSAGE,
            records.H_ATTEMPTS,
            records.H_FIRST_FAILURE,
        ):
            assert failed.header(name), f"missing dead-letter header {name}"
        assert failed.header(records.H_TOPIC) == topic
        assert failed.header(records.H_PARTITION) == "0"
        assert failed.header(records.H_OFFSET) == "1"
        assert failed.header(records.H_EXC_CLASS) == "builtins.ConnectionError"
        assert failed.header(records.H_EXC_MESSAGE) == "recipient topic unavailable"
        assert failed.header(records.H_ATTEMPTS) == "3", "first try plus two retry tiers"
        assert failed.header(records.H_EVENT_ID) == poison_id
        assert json.loads(failed.value or b"")["id"] == poison_id

        broken["on"] = False
        audits = await dlq.redrive(
            bootstrap_servers=kafka,
            names=hub.names,
            store=hub.store,
            producer=hub.producer,
            selection=dlq.Selection(case_id=poison_case),
            actor="ops-test",
            reason="fixed",
        )
        assert len(audits) == 1

        async def poison_done() -> bool:
            return bool(await hub.store.processed_ids([poison_id]))

        await eventually(poison_done)
        trace = await hub.store.trace(poison_case)
        assert trace["case"]["event_count"] == 2
        [redriven_event] = [e for e in trace["events"] if e["event_id"] == poison_id]
        lineage = json.loads(redriven_event["redrive_lineage"])
        assert lineage["actor"] == "ops-test" and lineage["original_offset"] == 1
        assert trace["dead_letters"][0]["redrive_count"] == 1

        # A second redrive of the same dead letter is audited but changes nothing.
        again = await dlq.redrive(
            bootstrap_servers=kafka,
            names=hub.names,
            store=hub.store,
            producer=hub.producer,
            selection=dlq.Selection(ids=(trace["dead_letters"][0]["dlq_id"],)),
            actor="ops-test",
        )
        assert len(again) == 1
        redriven = await topic_records(kafka, topic)

        async def consumed_again() -> bool:
            return hub.core.processed >= 2002 and len(redriven) >= 1003

        await eventually(consumed_again)
        assert (await hub.store.trace(poison_case))["case"]["event_count"] == 2
        ops = await topic_records(kafka, settings.topic_prefix + "hub.ops-audit.v1")
        assert len(ops) == 2

        live = await hub.store.snapshot()

    rebuilt_store = Store(store_url + ("-rebuilt" if store_url.startswith("sqlite") else ""))
    if not store_url.startswith("sqlite"):
        rebuilt_store = Store(store_url)  # same database: rebuild drops and recreates every table
    try:
        await rebuild(
            rebuilt_store,
            kafka,
            hub.names,
            settings.source_uri,
            settings.rules,
            hub.core.router.directory,
            privacy=hub.privacy,
        )
        assert await rebuilt_store.snapshot() == live
        async with rebuilt_store.engine.connect() as conn:
            indexes = await conn.run_sync(
                lambda c: {
                    i["name"] for t in (processed_events, deliveries, alerts) for i in inspect(c).get_indexes(t.name)
                }
            )
        assert indexes == {i.name for i in REPLAY_UNREAD_INDEXES}, "the indexes a rebuild defers are built at its end"
    finally:
        await rebuilt_store.close()


async def test_outbound_and_audit_records_are_keyed_by_case(kafka: str, store_url: str) -> None:
    """Routed in two lanes side by side: still every copy and audit, each once, keyed by its case;
    and version 1 of the audit beside version 2 where a consumer still needs it."""
    settings = isolated_settings(store_url, routing_lanes=2, audit={"also_v1": True})
    async with running_hub(settings, kafka) as hub, producer(kafka) as p:
        await open_cases(hub.store, p, settings, [f"K-{i}" for i in range(20)])
        ids = [await send_event(p, settings, panel_outcome(f"K-{i}")) for i in range(20)]

        async def done() -> bool:
            return len(await hub.store.processed_ids(ids)) == 20

        await eventually(done)
    audit = await topic_records(kafka, settings.topic_prefix + "hub.audit.v2")
    told = disclosures([json.loads(r.value or b"")["data"] for r in audit])
    panel = Counter(d["source_event_id"] for d in told if d["source_event_id"] in ids)
    assert panel == Counter({i: 3 for i in ids}), "to the school, social care and the health commissioner"
    assert all(r.key == json.loads(r.value or b"")["data"]["case_id"].encode() for r in audit)
    v1 = [
        json.loads(r.value or b"")["data"] for r in await topic_records(kafka, settings.topic_prefix + "hub.audit.v1")
    ]
    assert Counter(a["source_event_id"] for a in v1 if a["source_event_id"] in ids) == panel
    school = [r for r in await topic_records(kafka, settings.topic_prefix + "out.school.v1") if b"panel" in r.value]
    assert Counter(r.key for r in school) == Counter(f"K-{i}".encode() for i in range(20))
    assert all(r.header("content-type") == "application/cloudevents+json" for r in school)
