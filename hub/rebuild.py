"""Rebuild the projection store from the topics alone (Kafka is the record; the store is a view)."""

from __future__ import annotations

from typing import Any

from hub.delivery import TopicNames, dead_letter_row
from hub.dlq import audit_row_from_record
from hub.kafka_io import read_topic
from hub.records import H_LINEAGE
from hub.routing import route
from hub.store import Store
from hub.topics import DLQ_TOPIC, OPS_AUDIT_TOPIC
from schemas.envelope import EventRejected, decode
from schemas.events import INBOUND_EVENTS

BATCH = 2000


async def rebuild(
    store: Store, bootstrap_servers: str, names: TopicNames, hub_source: str, **client_config: Any
) -> dict[str, int]:
    """Drop and refill every table. Returns the row counts afterwards.

    Dead letters are read first: a record that was dead-lettered is skipped where it first
    arrived, because live processing never applied it (only a redriven copy, if any, counts).
    """
    await store.drop_schema()
    await store.create_schema()
    dead: set[tuple[str, int, int]] = set()
    async for record in read_topic(bootstrap_servers, names.physical(DLQ_TOPIC), client_config=client_config):
        row = dead_letter_row(record)
        dead.add((row["original_topic"], row["original_partition"], row["original_offset"]))
        await store.record_dead_letter(row)
    async for record in read_topic(bootstrap_servers, names.physical(OPS_AUDIT_TOPIC), client_config=client_config):
        await store.record_ops_audit(audit_row_from_record(record))
    for topic in dict.fromkeys(names.physical(e.topic) for e in INBOUND_EVENTS):
        pending = []
        async for record in read_topic(bootstrap_servers, topic, client_config=client_config):
            if (record.topic, record.partition, record.offset) in dead:
                continue
            try:
                envelope, event = decode(record.value)
            except EventRejected:
                continue
            result = route(
                envelope, event, topic=names.logical(topic), hub_source=hub_source, lineage=record.header(H_LINEAGE)
            )
            pending.append(result.effect)
            if len(pending) >= BATCH:
                await store.apply(pending)
                pending = []
        await store.apply(pending)
    return await store.counts()
