"""Reading whole topics, for the operations that look back over the record (dead letters, rebuild)."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
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


def _reader(bootstrap_servers: str, client_config: dict[str, Any] | None) -> AIOKafkaConsumer:
    """A consumer with no group: it reads from the beginning and never moves anyone's offsets."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **(client_config or {}),
    )


async def offset_ranges(
    bootstrap_servers: str, topic: str, client_config: dict[str, Any] | None = None
) -> dict[int, tuple[int, int]]:
    """(first, end) offset of each partition of ``topic``; empty if the topic does not exist."""
    consumer = _reader(bootstrap_servers, client_config)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(bootstrap_servers, topic, client_config)]
        if not tps:
            return {}
        first, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        return {tp.partition: (first[tp], end[tp]) for tp in tps}
    finally:
        await consumer.stop()


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
    consumer = _reader(bootstrap_servers, client_config)
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


async def read_in_time_order(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    client_config: dict[str, Any] | None = None,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> AsyncIterator[Record]:
    """Every record on ``topics`` up to their ends when the read started, merged into the order they
    were written (record timestamp, then topic in the order given, partition and offset).

    A case's events travel on several topics, and a rule may depend on which came first (an
    amended plan completes the review whose amendments were proposed before it), so a replay must
    see them in the order live processing did. Each partition is read a batch at a time and merged,
    so memory holds a batch per partition, not the topics. ``progress(read, total)`` is called as
    records are yielded.
    """
    consumer = _reader(bootstrap_servers, client_config)
    await consumer.start()
    try:
        rank = {topic: i for i, topic in enumerate(topics)}
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(bootstrap_servers, t, client_config)]
        if not tps:
            return
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        start = await consumer.beginning_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        total = sum(max(0, end[tp] - start[tp]) for tp in tps)
        buffers: dict[TopicPartition, deque[Record]] = {tp: deque() for tp in tps}
        open_tps = {tp for tp in tps if end[tp] > start[tp]}

        async def refill(tp: TopicPartition) -> None:
            while not buffers[tp] and tp in open_tps:
                fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=batch_size)
                for m in fetched.get(tp, []):
                    if m.offset < end[tp]:
                        buffers[tp].append(Record.from_consumer_record(m))
                if await consumer.position(tp) >= end[tp]:
                    open_tps.discard(tp)

        def head(tp: TopicPartition) -> tuple[int, int, int, int]:
            r = buffers[tp][0]
            return r.timestamp_ms, rank[r.topic], r.partition, r.offset

        heap: list[tuple[tuple[int, int, int, int], int]] = []
        for i, tp in enumerate(tps):
            await refill(tp)
            if buffers[tp]:
                heapq.heappush(heap, (head(tp), i))
        read = 0
        while heap:
            _, i = heapq.heappop(heap)
            tp = tps[i]
            yield buffers[tp].popleft()
            read += 1
            if progress is not None:
                progress(read, total)
            await refill(tp)
            if buffers[tp]:
                heapq.heappush(heap, (head(tp), i))
    finally:
        await consumer.stop()
