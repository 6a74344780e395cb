"""End-to-end latency: from the HTTP ingress accepting an event to the event being on the recipient's
outbound topic, at a steady request rate, through `hub run` in its own process.

Each panel outcome is posted to ``POST /api/v1/events``; its clock starts when the 202 arrives
(the event is durably on Kafka by then) and stops when the NHS's minimised copy is read from
``out.nhs.v1``. The baseline is the round trip of the same posts: what accepting costs.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer

from benchmarks.common import (
    Figure,
    assessment_requests,
    bearer,
    bench_settings,
    encoded,
    hub_processes,
    on_postgres,
    panel_outcomes,
    peak_rss_mib,
    percentile,
    produce,
    store_rows,
    wait_until,
)
from hub.wiring import ensure_topics
from schemas.envelope import encode, envelope_for
from tests.postgres import drop_database

TARGET_P99_MS = 50.0
CONNECTIONS = 32


async def run(
    bootstrap: str, workdir: Path, rps: int, seconds: int, split: bool = False, postgres: str | None = None
) -> list[Figure]:
    """``split`` accepts in one `hub run --roles intake` and routes in another process, so the
    router no longer shares an event loop (and a core) with the HTTP ingress. ``postgres`` (an
    admin URL) puts the store on a fresh PostgreSQL database instead of SQLite: the two
    processes then write side by side, where on SQLite they take turns on one file."""
    settings = bench_settings(workdir)
    if postgres is not None:
        settings = await on_postgres(settings, postgres)
    await ensure_topics(settings, bootstrap)
    total = rps * seconds
    case_ids = [f"L-{i}" for i in range(total)]
    name = "latency-split" if split else "latency"
    processes = hub_processes(settings, bootstrap, workdir, name, [["intake"], ["route", "dispatch"]] if split else [])
    hub = processes[0]  # the one that accepts
    for process in processes:
        await asyncio.to_thread(process.start)
    try:
        await produce(bootstrap, settings.topic_prefix, encoded(assessment_requests(case_ids)))

        async def opened() -> bool:
            return await store_rows(settings, "cases") >= total

        await wait_until(opened, 600, "cases opened")

        consumer = AIOKafkaConsumer(
            settings.topic_prefix + "out.nhs.v1", bootstrap_servers=bootstrap, auto_offset_reset="latest"
        )
        await consumer.start()
        arrived: dict[str, float] = {}

        async def watch() -> None:
            while True:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batches.values():
                    for r in records:
                        arrived.setdefault(json.loads(r.value)["causationid"], now)

        await asyncio.sleep(1.0)  # the watcher's partitions are assigned at the end of the topic
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(1.0)
        accepted: dict[str, float] = {}
        round_trip: list[float] = []
        bodies = [encode(envelope_for(p, source="/la-sen/202")) for p in panel_outcomes(case_ids)]
        headers = {"content-type": "application/cloudevents+json", **await bearer("la-202")}
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        async with aiohttp.ClientSession(base_url=hub.url, connector=connector) as session:

            async def post(body: bytes) -> None:
                sent = time.perf_counter()
                async with session.post("/api/v1/events", data=body, headers=headers) as response:
                    answer = await response.json()
                done = time.perf_counter()
                if response.status == 202:
                    accepted[answer["id"]] = done
                    round_trip.append(done - sent)

            # Open loop: each request leaves at its scheduled time whether or not earlier ones are answered.
            started = time.perf_counter()
            posts = []
            for i, body in enumerate(bodies):
                delay = started + i / rps - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                posts.append(asyncio.create_task(post(body)))
            await asyncio.gather(*posts)
            offered_seconds = time.perf_counter() - started
        await wait_until(lambda: len(arrived.keys() & accepted.keys()) >= len(accepted), 120, "deliveries read")
        watcher.cancel()
        await consumer.stop()
        rss = sum(peak_rss_mib(p.pid) for p in processes)
    finally:
        for process in processes:
            await asyncio.to_thread(process.stop)
        if postgres is not None:
            await drop_database(postgres, settings.database_url)
    latencies = [max(0.0, arrived[i] - accepted[i]) * 1000 for i in accepted]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    detail = {
        "requests": total,
        "accepted": len(accepted),
        "achieved_rps": round(len(accepted) / offered_seconds, 1),
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "accept_round_trip_p50_ms": round(percentile(round_trip, 0.5) * 1000, 1),
        "accept_round_trip_p99_ms": round(percentile(round_trip, 0.99) * 1000, 1),
    }
    common: dict[str, Any] = {"peak_rss_mib": rss, "detail": detail}
    variant = (", split" if split else "") + (", PostgreSQL" if postgres else "")
    return [
        Figure(
            "end-to-end latency",
            f"p99 ms, accepted to outbound topic, {rps} req/s for {seconds}s"
            + (", intake and routing in two processes" if split else "")
            + (", store on PostgreSQL" if postgres else ""),
            round(p99, 1),
            "ms",
            baseline=detail["accept_round_trip_p99_ms"],
            baseline_name="p99 of the accepting round trip",
            target=f"< {TARGET_P99_MS:g} ms",
            met=p99 < TARGET_P99_MS,
            **common,
        ),
        Figure("end-to-end latency", f"p50 ms{variant}", round(p50, 1), "ms", **common),
        Figure("end-to-end latency", f"max ms{variant}", round(max(latencies), 1), "ms", **common),
    ]
