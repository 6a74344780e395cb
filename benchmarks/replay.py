"""Replay: `hub rebuild` refilling an empty store from the canonical topics, against a bare consumer
reading the same topics from the beginning.

Half the events open cases and half record their panel outcomes, so every replayed event is
judged against its case as live processing judged it. The rebuild runs as its own process, whose
peak memory is read from the kernel when it exits.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.common import Figure, bench_settings, encoded, end_offsets, produce
from benchmarks.router import _panels, _requests
from hub.service import ensure_topics
from hub.settings import Settings
from schemas.events import AssessmentRequested, PanelOutcomeRecorded

TARGET = 0.5
CHUNK = 50_000


async def _fill(bootstrap: str, settings: Settings, events: int) -> None:
    cases = events // 2
    for make in (_requests, _panels):
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


def _rebuild(settings: Settings, bootstrap: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `hub rebuild` in its own process."""
    env = dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        HUB_TOPIC_PREFIX=settings.topic_prefix,
        HUB_DATABASE_URL=settings.database_url,
        HUB_LOG_LEVEL="WARNING",
    )
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "rebuild"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"hub rebuild failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
    return seconds, round(usage.ru_maxrss / 1024, 1)


async def run(bootstrap: str, workdir: Path, events: int) -> list[Figure]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    await _fill(bootstrap, settings, events)
    topics = [settings.topic_prefix + e.topic for e in (AssessmentRequested, PanelOutcomeRecorded)]
    bare_seconds, read = await bare_read(bootstrap, topics)
    if read != events:
        raise RuntimeError(f"the bare consumer read {read} of {events} records")
    rebuild_seconds, rss = await asyncio.to_thread(_rebuild, settings, bootstrap)
    hub, bare = events / rebuild_seconds, events / bare_seconds
    return [
        Figure(
            "replay",
            f"events/s rebuilding the store from {events:,} events",
            round(hub),
            "events/s",
            baseline=round(bare),
            baseline_name="bare consumer reading the same topics",
            target=f">= {TARGET} of bare",
            met=hub / bare >= TARGET,
            peak_rss_mib=rss,
            detail={"events": events, "rebuild_seconds": round(rebuild_seconds, 1)},
        )
    ]
