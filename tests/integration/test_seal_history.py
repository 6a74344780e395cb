"""Sealing the history of a hub that ran without sealing, against the real broker: every record
moves onto new topics sealed, in place (partition, offset, timestamp), the old topics go, and an
erasure then reaches what was written in the clear."""

from __future__ import annotations

import json

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select

from hub.domain.addressing import Directory
from hub.ops.kafka_io import partitions_of
from hub.ops.rebuild import rebuild
from hub.ops.seal_history import HistoryRefused, seal_history
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import H_OFFSET, H_PARTITION, H_TOPIC
from hub.privacy.erasure import erase_person
from hub.privacy.service import Privacy
from hub.store import Store
from hub.store.tables import cases as cases_table
from hub.store.tables import dead_letters
from hub.topics import DLQ_TOPIC, catalogue
from hub.wiring import ensure_topics
from tests.helpers import eventually, isolated_settings, person, producer, topic_records
from tests.integration.ehc_world import ehc_world, request_body

pytestmark = pytest.mark.kafka

REQUESTS = "ehc.assessment-requests.v1"


async def committed(kafka: str, names: TopicNames) -> dict[tuple[str, str, int], int]:
    """Every consumer group's committed position on these topics: (group, logical topic, partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        out = {}
        for group, *_ in await admin.list_consumer_groups():
            for tp, at in (await admin.list_consumer_group_offsets(group)).items():
                if tp.topic.startswith(names.prefix) and at.offset >= 0:
                    out[(group, names.logical(tp.topic), tp.partition)] = at.offset
        return out
    finally:
        await admin.close()


async def test_a_history_written_in_the_clear_moves_onto_sealed_topics_and_an_erasure_reaches_it(
    kafka: str, store_url: str
) -> None:
    kept, gone, rejected = person(81), person(82), person(83)
    async with ehc_world(kafka, store_url, privacy={"seal_personal_data": False}) as world:
        old = world.runtime.names
        tiers = len(world.runtime.settings.retry_delays_seconds)
        for case, n in (("SH-1", 81), ("SH-2", 82)):
            await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body(case, n)))["id"])
        bad = {
            "specversion": "1.0",
            "id": "SH-BAD",
            "source": "/la/202/sen",
            "type": "uk.ehc-hub.assessment-requested.v1",
            "time": "2026-01-05T09:00:00Z",
            "correlationid": "SH-BAD",
            "data": {**request_body("SH-3", 83), "received_date": "not a date"},
        }
        async with producer(kafka) as p:
            await p.send_and_wait(old.physical(REQUESTS), json.dumps(bad).encode(), key=b"SH-3")

        async def dead_lettered() -> bool:
            return bool(await topic_records(kafka, old.physical(DLQ_TOPIC)))

        await eventually(dead_lettered)

    before = {spec.name: await topic_records(kafka, old.physical(spec.name)) for spec in catalogue(tiers)}
    written = b"".join(r.value or b"" for records in before.values() for r in records)
    assert kept.nhs_number.encode() in written and rejected.nhs_number.encode() in written, "in the clear"

    settings = isolated_settings(store_url)  # sealing, as by default, under a prefix of its own
    new = TopicNames(settings.topic_prefix)
    await ensure_topics(settings, kafka)
    store = Store(store_url)
    try:
        privacy = Privacy.configured(settings.privacy, store.db)
        assert privacy is not None
        positions = await committed(kafka, old)
        assert positions, "the hub's consumer groups have positions on the old topics"
        report = await seal_history(kafka, old, new, store, privacy, tiers, delete_old=True)
        assert await committed(kafka, new) == positions, "every group carries on where it stopped"
        [indexed] = await store.db.rows(select(dead_letters))
        assert indexed["original_topic"] == new.physical(REQUESTS), "the store names the new topics"
        assert report.copied == {name: len(records) for name, records in before.items()}
        assert report.sealed >= 3 and report.unreadable == 0
        for name in report.copied:
            assert not await partitions_of(kafka, old.physical(name)), f"{name}: the old topic is gone"

        after = {name: await topic_records(kafka, new.physical(name)) for name in before}
        raw = b"".join((r.value or b"") + b"".join(v for _, v in r.headers) for rs in after.values() for r in rs)
        for someone in (kept, gone, rejected):
            for secret in (someone.nhs_number, someone.family_name, "2010-03-14"):
                assert secret.encode() not in raw
        for name, records in after.items():
            assert sorted((r.partition, r.offset, r.key, r.timestamp_ms) for r in records) == sorted(
                (r.partition, r.offset, r.key, r.timestamp_ms) for r in before[name]
            ), f"{name}: every record where it was"

        [dead] = after[DLQ_TOPIC]
        assert dead.header(H_TOPIC) == new.physical(REQUESTS), "the dead letter names where its original now lives"
        [original] = [
            r
            for r in after[REQUESTS]
            if r.partition == int(dead.header(H_PARTITION) or -1) and r.offset == int(dead.header(H_OFFSET) or -1)
        ]
        assert json.loads(original.value or b"")["id"] == "SH-BAD"

        docs = [json.loads(r.value or b"") for r in after[REQUESTS]]
        opened = {d["data"]["case_id"]: o for d, o in zip(docs, await privacy.open(docs), strict=True)}
        assert opened["SH-1"][0]["data"]["person"]["nhs_number"] == kept.nhs_number

        key = await store.person_key_for("nhs_number", kept.nhs_number)
        assert key is not None
        await erase_person(store, privacy, key, actor="test", reason="subject-request")
        opened = {d["data"]["case_id"]: o for d, o in zip(docs, await privacy.open(docs), strict=True)}
        assert opened["SH-1"][1] and opened["SH-1"][0]["data"]["person"] == {"la_code": "202", "erased": True}
        assert not opened["SH-2"][1] and opened["SH-2"][0]["data"]["person"]["nhs_number"] == gone.nhs_number

        await rebuild(
            store,
            kafka,
            new,
            settings.source_uri,
            settings.rules,
            Directory(settings.health_commissioners),
            privacy=privacy,
        )
        [indexed] = await store.db.rows(select(dead_letters))
        assert indexed["original_topic"] == new.physical(REQUESTS), "and so does a rebuild"
        cases = {r["case_id"]: r for r in await store.db.rows(select(cases_table))}
        assert set(cases) == {"SH-1", "SH-2"} and gone.nhs_number in json.dumps(cases["SH-2"], default=str)
        assert kept.nhs_number not in json.dumps(cases["SH-1"], default=str), "rebuilt with the erasure"

        with pytest.raises(HistoryRefused, match="already holds records"):
            await seal_history(kafka, TopicNames("elsewhere."), new, store, privacy, tiers)
        with pytest.raises(HistoryRefused, match="in place"):
            await seal_history(kafka, new, new, store, privacy, tiers)
    finally:
        await store.close()
