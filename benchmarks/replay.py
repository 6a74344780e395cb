"""Replay: `hub rebuild` refilling an empty store from the canonical topics, against a bare consumer
reading the same topics from the beginning.

Half the events open cases and half record their panel outcomes, so every replayed event is
judged against its case as live processing judged it. The rebuild (what `hub rebuild` runs) has a
process of its own, which reports its own peak memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.common import (
    Figure,
    assessment_requests,
    bench_settings,
    encoded,
    end_offsets,
    own_peak_rss_mib,
    panel_outcomes,
    produce,
    quiet_logging,
)
from hub.domain.addressing import Directory
from hub.ops.rebuild import rebuild
from hub.pipeline.publisher import TopicNames
from hub.privacy.service import Privacy
from hub.settings import Settings
from hub.store import Store
from hub.wiring import ensure_topics
from schemas.events import AssessmentRequested, PanelOutcomeRecorded

TARGET = 10_000  # events/s: a million events rebuilt in under 100 s
CHUNK = 50_000


async def _fill(bootstrap: str, settings: Settings, events: int) -> None:
    cases = events // 2
    for make in (assessment_requests, panel_outcomes):
        for start in range(0, cases, CHUNK):
            ids = [f"R-{i}" for i in range(start, min(cases, start + CHUNK))]
            await produce(bootstrap, settings.topic_prefix, encoded(make(ids)))


async def bare_read(bootstrap: str, topics: list[str]) -> tuple[float, int]:
    """Seconds for a plain consumer to read every record of ``topics`` from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=8 * 1024 * 1024
    )
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = {}
        for topic in topics:
            ends.update(await end_offsets(bootstrap, topic))
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        remaining = {tp for tp, end in ends.items() if end > 0}
        started = time.perf_counter()
        read = 0
        while remaining:
            for tp, records in (await consumer.getmany(timeout_ms=500, max_records=5000)).items():
                read += len(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return time.perf_counter() - started, read
    finally:
        await consumer.stop()


def _rebuild_process(settings: Settings, bootstrap: str, results: Any) -> None:
    """What `hub rebuild` does, in a process of its own that reports its own peak memory."""
    quiet_logging()

    async def rebuild_store() -> dict[str, Any]:
        store = Store(settings.database_url)
        try:
            started = time.perf_counter()
            names = TopicNames(settings.topic_prefix)
            directory = Directory(settings.health_commissioners)
            privacy = Privacy.configured(settings.privacy, store.db)
            counts = await rebuild(
                store, bootstrap, names, settings.source_uri, settings.rules, directory, privacy=privacy
            )
            return {"seconds": time.perf_counter() - started, "counts": counts, "peak_rss_mib": own_peak_rss_mib()}
        finally:
            await store.close()

    results.put(uvloop.run(rebuild_store()))


async def _rebuild(settings: Settings, bootstrap: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    proc = context.Process(target=_rebuild_process, args=(settings, bootstrap, results))
    proc.start()
    outcome: dict[str, Any] = await asyncio.to_thread(results.get, True, 7200)
    await asyncio.to_thread(proc.join, 60)
    return outcome


async def run(bootstrap: str, workdir: Path, events: int) -> list[Figure]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    await _fill(bootstrap, settings, events)
    topics = [settings.topic_prefix + e.topic for e in (AssessmentRequested, PanelOutcomeRecorded)]
    bare_seconds, read = await bare_read(bootstrap, topics)
    if read != events:
        raise RuntimeError(f"the bare consumer read {read} of {events} records")
    outcome = await _rebuild(settings, bootstrap)
    if outcome["counts"]["processed_events"] != events:
        raise RuntimeError(f"the rebuilt store holds {outcome['counts']['processed_events']} of {events} events")
    rebuild_seconds, rss = outcome["seconds"], outcome["peak_rss_mib"]
    hub, bare = events / rebuild_seconds, events / bare_seconds
    return [
        Figure(
            "replay",
            f"events/s rebuilding the store from {events:,} events",
            round(hub),
            "events/s",
            baseline=round(bare),
            baseline_name="bare consumer reading the same topics",
            target=f">= {TARGET:,} events/s",
            met=hub >= TARGET,
            peak_rss_mib=rss,
            detail={"events": events, "rebuild_seconds": round(rebuild_seconds, 1)},
        )
    ]
