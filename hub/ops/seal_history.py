"""Sealing the history: every record of a hub that ran without sealing, copied onto a new set of
topics with its personal parts sealed, so that an erasure reaches it too.

A Kafka log cannot be rewritten in place, so the history moves: the hub's topics under one prefix
are read from the beginning and written, record by record, to the same topics under the prefix
the hub runs with now. Each record keeps its partition, key, headers and timestamp, so a
canonical partition gets the same offsets (dead letters name them) and a rebuild replays the
records in the order they were first written. A CloudEvent not yet sealed is sealed as the hub
seals what it publishes; anything else (a sealed CloudEvent, an operator audit, a record that is
not JSON) is copied byte for byte. The hub's consumer groups are
moved with it, to the same positions on the new topics, and the store's references to topics
(dead letters, records waiting for delivery) are renamed, so the hub carries on where it stopped:
nothing is processed or delivered twice, and no rebuild is needed. The old topics are deleted only
when asked, once every record is on the new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import update

from hub.ops.kafka_io import offset_ranges, partitions_of, read_topic
from hub.pipeline.kafka_client import LARGE_MESSAGE_BYTES
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import H_TOPIC, Record
from hub.privacy.service import Privacy
from hub.store import Store
from hub.store.tables import dead_letters, dispatches
from hub.topics import catalogue

CHUNK = 500
"""Records sealed and sent together: one read of the data keys, one wait for acknowledgements."""


class HistoryRefused(Exception):
    """Why the history cannot be moved as asked, in one line an operator can act on."""


@dataclass
class HistoryReport:
    copied: dict[str, int] = field(default_factory=dict)  # logical topic -> records
    sealed: int = 0
    unreadable: int = 0  # values that are not JSON, copied as they were
    groups: list[str] = field(default_factory=list)  # consumer groups moved to the new topics
    deleted: list[str] = field(default_factory=list)  # the old topics, where asked


def _headers(record: Record, renamed: dict[bytes, bytes]) -> list[tuple[str, bytes]]:
    """The headers, a dead letter's or retry's original topic renamed to where it now lives."""
    return [(k, renamed.get(v, v)) if k == H_TOPIC else (k, v) for k, v in record.headers]


async def seal_history(
    bootstrap: str,
    old: TopicNames,
    new: TopicNames,
    store: Store,
    privacy: Privacy,
    retry_tiers: int,
    *,
    client_config: dict[str, Any] | None = None,
    delete_old: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> HistoryReport:
    """Copy every topic of the catalogue from ``old`` names to ``new`` names, sealing as it goes.

    The new topics must exist (``hub topics apply``) with at least as many partitions, and be
    empty: a copy made twice would hold the history twice. Every hub instance must be stopped:
    their positions move with the history."""
    if old.prefix == new.prefix:
        raise HistoryRefused("the old and new topic prefixes are the same: a log cannot be sealed in place")
    config = client_config or {}
    specs = catalogue(retry_tiers)
    renamed = {old.physical(spec.name): new.physical(spec.name) for spec in specs}
    renamed_headers = {a.encode(): b.encode() for a, b in renamed.items()}
    firsts: dict[str, dict[int, int]] = {}
    for spec in specs:
        source, target = old.physical(spec.name), new.physical(spec.name)
        have, want = await offset_ranges(bootstrap, source, config), await offset_ranges(bootstrap, target, config)
        firsts[source] = {p: first for p, (first, _) in have.items()}
        if have and not want:
            raise HistoryRefused(f"{target} does not exist: run `hub topics apply` first")
        if any(end > first for first, end in want.values()):
            raise HistoryRefused(f"{target} already holds records: the history goes onto empty topics")
        if max(have, default=-1) >= len(want):
            raise HistoryRefused(f"{target} has fewer partitions than {source}")
    report = HistoryReport()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=LARGE_MESSAGE_BYTES,
        **config,
    )
    await producer.start()
    try:
        for spec in specs:
            target = new.physical(spec.name)
            chunk: list[Record] = []
            copied = 0
            async for record in read_topic(bootstrap, old.physical(spec.name), client_config=config):
                chunk.append(record)
                if len(chunk) >= CHUNK:
                    copied += await _copy(producer, privacy, chunk, target, renamed_headers, report)
                    chunk = []
                    if progress is not None:
                        progress(spec.name, copied)
            if chunk:
                copied += await _copy(producer, privacy, chunk, target, renamed_headers, report)
            report.copied[spec.name] = copied
            if progress is not None:
                progress(spec.name, copied)
    finally:
        await producer.stop()
    report.groups = await _move_positions(bootstrap, renamed, firsts, config)
    async with store.db.begin() as conn:
        for source, target in renamed.items():
            for column in (dead_letters.c.original_topic, dispatches.c.topic):
                await conn.execute(update(column.table).where(column == source).values({column.name: target}))
    if delete_old:
        report.deleted = await _delete_copied(bootstrap, old, new, report, config)
    return report


async def _move_positions(
    bootstrap: str, renamed: dict[str, str], firsts: dict[str, dict[int, int]], config: dict[str, Any]
) -> list[str]:
    """Each consumer group's committed positions on the old topics, committed on the new ones. A
    partition copied from its first offset keeps its offsets; one whose oldest records had expired
    (a retry tier) starts at 0 on the new topic, so its position moves back by as many."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **config)
    await admin.start()
    try:
        moves: dict[str, dict[TopicPartition, int]] = {}
        for group, *_ in await admin.list_consumer_groups():
            for tp, committed in (await admin.list_consumer_group_offsets(group)).items():
                if tp.topic in renamed and committed.offset >= 0:
                    moved = max(0, committed.offset - firsts[tp.topic].get(tp.partition, 0))
                    moves.setdefault(group, {})[TopicPartition(renamed[tp.topic], tp.partition)] = moved
    finally:
        await admin.close()
    for group, positions in sorted(moves.items()):
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **config)
        await consumer.start()
        try:
            consumer.assign(list(positions))
            await consumer.commit(positions)
        finally:
            await consumer.stop()
    return sorted(moves)


async def _copy(
    producer: AIOKafkaProducer,
    privacy: Privacy,
    chunk: list[Record],
    target: str,
    renamed: dict[bytes, bytes],
    report: HistoryReport,
) -> int:
    docs: list[Any] = []
    for record in chunk:
        try:
            docs.append(orjson.loads(record.value) if record.value is not None else None)
        except orjson.JSONDecodeError:
            docs.append(None)
            report.unreadable += 1
    readable = [(i, d) for i, d in enumerate(docs) if isinstance(d, dict) and isinstance(d.get("data"), dict)]
    values = [r.value for r in chunk]
    for (i, before), after in zip(readable, await privacy.seal([d for _, d in readable]), strict=True):
        if "sealed" in after and "sealed" not in before:
            values[i] = orjson.dumps(after)
            report.sealed += 1
    acks = [
        await producer.send(
            target,
            value=value,
            key=record.key,
            partition=record.partition,
            timestamp_ms=record.timestamp_ms or None,
            headers=_headers(record, renamed),
        )
        for record, value in zip(chunk, values, strict=True)
    ]
    for ack in acks:
        await ack
    return len(chunk)


async def _delete_copied(
    bootstrap: str, old: TopicNames, new: TopicNames, report: HistoryReport, config: dict[str, Any]
) -> list[str]:
    """The old topics deleted, each only once the new one holds at least as many records."""
    doomed = []
    for name, copied in report.copied.items():
        held = sum(end - first for first, end in (await offset_ranges(bootstrap, new.physical(name), config)).values())
        if held < copied:
            raise HistoryRefused(f"{new.physical(name)} holds {held} records of {copied}: nothing was deleted")
        if await partitions_of(bootstrap, old.physical(name), config):
            doomed.append(old.physical(name))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **config)
    await admin.start()
    try:
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
    return doomed
