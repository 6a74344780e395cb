"""Router throughput: the hub's full pipeline against a bare aiokafka consume-and-produce loop.

Both read the same panel outcomes from the same broker in the same run. The hub validates,
judges each event against its case, applies the sharing policy, publishes three minimised
deliveries and their disclosure audit per event with acks=all, stores the effects and commits.
The bare loop forwards each record once and commits; a second bare loop does the same work without
the hub's logic: four acknowledged writes per record, as many as the hub makes, and one SQLite
transaction per batch with the rows the hub stores for each event.
The hub runs in 1, 2 and 4 processes of one consumer group, each its own OS process, with
personal data sealed as deployed by default (the events arrive sealed, as the ingress writes
them); one more run of 1 process without sealing gives the cost of the encryption.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
import uuid
from multiprocessing.synchronize import Event as StopEvent
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.common import (
    Figure,
    assessment_requests,
    bench_settings,
    encoded,
    own_peak_rss_mib,
    panel_outcomes,
    produce,
    quiet_logging,
    rate_of_growth,
    sealed,
    store_count,
)
from hub.settings import Settings
from hub.wiring import HubRuntime, ensure_topics
from schemas.events import PanelOutcomeRecorded

TARGET_SAME_WORK = 0.6  # of a bare loop making the same acknowledged writes and store transaction
TARGET_FORWARD = 0.15  # of a bare loop forwarding each record once
TARGET_SEALED = 0.85  # of the same hub with personal data not sealed
RECIPIENTS = 3  # a panel outcome goes to the school, social care and the NHS
FANOUT = RECIPIENTS + 1  # a minimised copy to each, and one disclosure audit naming them


def _hub_worker(settings: Settings, bootstrap: str, stop: StopEvent, results: Any) -> None:
    """One hub process: a consumer-group member running the full pipeline until told to stop."""
    quiet_logging()

    async def serve() -> None:
        runtime = HubRuntime(settings, bootstrap)
        await runtime.start()
        try:
            await asyncio.to_thread(stop.wait)
        finally:
            await runtime.stop()
        results.put({"processed": runtime.core.processed, "peak_rss_mib": own_peak_rss_mib()})

    uvloop.run(serve())  # the event loop `hub run` uses


async def _group_members(bootstrap: str, group_id: str) -> tuple[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = (await admin.describe_consumer_groups([group_id]))[0]
        group = response.groups[0]
        return str(group[2]), len(group[5])
    finally:
        await admin.close()


async def _wait_for_group(bootstrap: str, group_id: str, members: int, timeout: float = 90) -> None:
    """Until every process has joined and the group has settled: a rebalance mid-run is not routing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, joined = await _group_members(bootstrap, group_id)
        if state == "Stable" and joined == members:
            await asyncio.sleep(1.0)
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"consumer group {group_id} did not settle with {members} members")


async def hub_rate(
    bootstrap: str, workdir: Path, events: int, processes: int, seal: bool = True
) -> tuple[float, list[float]]:
    """Events per second through ``processes`` hub processes, and each process's peak RSS. With
    ``seal`` (the default deployment) the events arrive sealed, as the ingress writes them."""
    settings = bench_settings(
        workdir, privacy={"seal_personal_data": seal, "master_key_file": str(workdir / "master.key")}
    )
    await ensure_topics(settings, bootstrap)
    case_ids = [f"B-{i}" for i in range(events)]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()

    def count() -> int:
        return store_count(settings, "processed_events")

    # Open the cases first with one process (not timed): a panel outcome needs its case.
    stop = context.Event()
    opener = context.Process(target=_hub_worker, args=(settings, bootstrap, stop, results))
    opener.start()
    await produce(bootstrap, settings.topic_prefix, await sealed(settings, encoded(assessment_requests(case_ids))))
    await rate_of_growth(count, 0, events, timeout=600)
    stop.set()
    await asyncio.to_thread(opener.join, 60)
    results.get(timeout=10)

    panels = await sealed(settings, encoded(panel_outcomes(case_ids)))
    stop = context.Event()
    workers = [context.Process(target=_hub_worker, args=(settings, bootstrap, stop, results)) for _ in range(processes)]
    for w in workers:
        w.start()
    try:
        await _wait_for_group(bootstrap, settings.group_id, processes)
        producing = asyncio.create_task(produce(bootstrap, settings.topic_prefix, panels))
        seconds = await rate_of_growth(count, events, 2 * events, timeout=1200)
        await producing
    finally:
        stop.set()
        for w in workers:
            await asyncio.to_thread(w.join, 60)
    rss = [results.get(timeout=10)["peak_rss_mib"] for _ in workers]
    return events / seconds, rss


async def bare_rate(
    bootstrap: str, source: str, sink: str, count: int, fanout: int = 1, store: Path | None = None
) -> float:
    """Consume, produce each record ``fanout`` times (acks=all, idempotent), commit per batch: the floor
    any router pays. With ``store``, each batch also writes what the hub's store writes for a panel
    outcome (the event's id, its case, a delivery row per recipient) in one SQLite transaction,
    while the acknowledgements are awaited, as the hub does."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bare-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    db = _bare_store(store) if store else None
    await consumer.start()
    await producer.start()
    seen = 0
    started: float | None = None
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [m for msgs in batches.values() for m in msgs]
            if records and started is None:
                started = time.perf_counter()
            futures = [await producer.send(sink, m.value, key=m.key) for m in records for _ in range(fanout)]
            if db is not None:
                _bare_write(db, records)
            await asyncio.gather(*futures)
            seen += len(records)
            await consumer.commit()
        return count / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        await consumer.stop()
        await producer.stop()
        if db is not None:
            db.close()


def _bare_store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        """
        create table if not exists processed (event_id text primary key, topic text, case_id text, at text);
        create table if not exists cases (case_id text primary key, event_count int);
        create table if not exists deliveries (delivery_id text primary key, event_id text, recipient text);
        """
    )
    return db


def _bare_write(db: sqlite3.Connection, records: list[Any]) -> None:
    ids = [(f"{m.topic}:{m.partition}:{m.offset}", (m.key or b"").decode()) for m in records]
    with db:
        db.executemany("insert into processed values (?, 'panel', ?, datetime('now'))", ids)
        db.executemany(
            "insert into cases values (?, 1) on conflict(case_id) do update set event_count = event_count + 1",
            [(case,) for _, case in ids],
        )
        db.executemany(
            "insert into deliveries values (?, ?, ?)",
            [(f"{event}:{n}", event, f"agency-{n}") for event, _ in ids for n in range(RECIPIENTS)],
        )


async def run(bootstrap: str, workdir: Path, events: int, processes: tuple[int, ...] = (1, 2, 4)) -> list[Figure]:
    # Unsealed first: a later run meets a warmer broker, which flattered the baseline when it came last.
    unsealed, _ = await hub_rate(bootstrap, workdir, events, processes[0], seal=False)
    rates: dict[int, tuple[float, list[float]]] = {}
    for n in processes:
        rates[n] = await hub_rate(bootstrap, workdir, events, n)
    # The baselines read a copy of the same panel outcomes, on a topic of their own.
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    await produce(bootstrap, settings.topic_prefix, encoded(panel_outcomes([f"B-{i}" for i in range(events)])))
    source = settings.topic_prefix + PanelOutcomeRecorded.topic
    bare = await bare_rate(bootstrap, source, settings.topic_prefix + "out.family.v1", events)
    same_work = await bare_rate(
        bootstrap, source, settings.topic_prefix + "out.school.v1", events, FANOUT, workdir / "bare-store.db"
    )
    one, rss = rates[processes[0]]
    figures = [
        Figure(
            "router throughput",
            f"events/s, {processes[0]} process, vs bare forward",
            round(one),
            "events/s",
            baseline=round(bare),
            baseline_name="bare aiokafka loop, 1 write per event",
            target=f">= {TARGET_FORWARD} of bare",
            met=one / bare >= TARGET_FORWARD,
            peak_rss_mib=max(rss),
            detail={"events": events},
        ),
        Figure(
            "router throughput",
            f"events/s, {processes[0]} process, vs bare doing the same work",
            round(one),
            "events/s",
            baseline=round(same_work),
            baseline_name=f"bare aiokafka loop, {FANOUT} writes per event and an SQLite transaction per batch",
            target=f">= {TARGET_SAME_WORK} of bare",
            met=one / same_work >= TARGET_SAME_WORK,
            peak_rss_mib=max(rss),
        ),
    ]
    figures.append(
        Figure(
            "router throughput",
            f"events/s, {processes[0]} process, sealing personal data vs not",
            round(one),
            "events/s",
            baseline=round(unsealed),
            baseline_name="the hub with HUB_PRIVACY__SEAL_PERSONAL_DATA=false",
            target=f">= {TARGET_SEALED} of unsealed (encryption costs under 15 %)",
            met=one / unsealed >= TARGET_SEALED,
            peak_rss_mib=max(rss),
            detail={"events": events, "cost_us_per_event": round(1e6 / one - 1e6 / unsealed, 1)},
        )
    )
    for n in processes[1:]:
        rate, rss = rates[n]
        figures.append(
            Figure(
                "router throughput",
                f"events/s, {n} processes, vs 1 process",
                round(rate),
                "events/s",
                baseline=round(one),
                baseline_name="the hub in 1 process",
                peak_rss_mib=max(rss),
                detail={"events": events, "processes": n},
            )
        )
    return figures
