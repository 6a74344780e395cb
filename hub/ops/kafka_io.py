"""Reading whole topics, for the operations that look back over the record (dead letters, rebuild)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.pipeline.records import Record


async def partitions_of(bootstrap_servers: str, topic: str, client_config: dict[str, Any] | None = None) -> list[int]:
    """Partition numbers of a topic, fresh from the cluster (empty if the topic does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(client_config or {}))
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for t in described:
        if t.get("topic") == topic and not t.get("error_code"):
            return sorted(p["partition"] for p in t.get("partitions", []))
    return []


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    client_config: dict[str, Any] | None = None,
    batch_size: int = 5000,
) -> AsyncIterator[Record]:
    """Every record on ``topic`` from the beginning up to its end when the read started.

    Reads without a consumer group, so it never moves anyone's committed offsets.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **(client_config or {}),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(bootstrap_servers, topic, client_config)]
        if not tps:
            return
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        for tp in tps:
            if tp in remaining and await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
            for tp, msgs in batches.items():
                for m in msgs:
                    if m.offset < end[tp]:
                        yield Record.from_consumer_record(m)
                if msgs and msgs[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
