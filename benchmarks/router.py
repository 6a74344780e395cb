"""Router throughput: the hub's full pipeline against a bare aiokafka consume-and-produce loop.

Both read the same pre-produced panel outcomes from the same broker in the same run. The hub
validates, judges each event against its case, applies the sharing policy, publishes three
minimised deliveries and three disclosure audits per event with acks=all, stores the effects and
commits; the bare loop forwards each record once and commits. Prints a table and writes JSON.

    python -m benchmarks.router [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub import kafka_local
from hub.logging import configure_logging
from hub.runtime import HubRuntime
from hub.service import ensure_topics
from hub.settings import Settings
from schemas.envelope import encode, envelope_for
from schemas.events import AssessmentRequested, PanelOutcomeRecorded


def _settings(database: Path) -> Settings:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    return Settings(
        topic_prefix=prefix,
        group_id=f"{prefix}hub",
        database_url=f"sqlite+aiosqlite:///{database}",
        retry_delays_seconds=[1.0],
        clock_sweep_seconds=0,
        topic_partitions=3,
    )


async def _produce(bootstrap: str, topic: str, events: list[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10, max_batch_size=512 * 1024)
    await producer.start()
    try:
        for event in events:
            await producer.send(topic, encode(envelope_for(event, source="/bench")), key=event.key().encode())
        await producer.flush()
    finally:
        await producer.stop()


async def _wait_processed(runtime: HubRuntime, target: int) -> float:
    """Seconds from the first event applied to the last: consumer-group start-up is not routing."""
    first: float | None = None
    while runtime.core.processed < target:
        if first is None and runtime.core.processed:
            first = time.perf_counter()
        await asyncio.sleep(0.01)
    return time.perf_counter() - (first or time.perf_counter())


async def bare_loop(bootstrap: str, source: str, sink: str, count: int) -> float:
    """Consume, produce each record once (acks=all), commit per batch: the floor any router pays."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bare-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2)
    await consumer.start()
    await producer.start()
    seen = 0
    started: float | None = None
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            futures = [await producer.send(sink, m.value, key=m.key) for msgs in batches.values() for m in msgs]
            if futures and started is None:
                started = time.perf_counter()
            await asyncio.gather(*futures)
            seen += len(futures)
            await consumer.commit()
        return time.perf_counter() - (started or time.perf_counter())
    finally:
        await consumer.stop()
        await producer.stop()


async def run(events: int, bootstrap: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp) / "hub.db")
        await ensure_topics(settings, bootstrap)
        case_ids = [f"B-{i}" for i in range(events)]
        requests = [
            AssessmentRequested(
                case_id=c,
                la_code="202",
                person={"la_person_id": c, "la_code": "202"},
                requested_by="parent",
                received_date="2026-01-05",
            )
            for c in case_ids
        ]
        panels = [
            PanelOutcomeRecorded(
                case_id=c, la_code="202", panel_date="2026-03-02", outcome="issue-plan", health_summary="SALT"
            )
            for c in case_ids
        ]
        runtime = HubRuntime(settings, bootstrap)
        await runtime.start()
        try:
            await _produce(bootstrap, settings.topic_prefix + AssessmentRequested.topic, requests)
            await _wait_processed(runtime, events)  # cases opened; not timed
            await runtime.stop()
            await _produce(bootstrap, settings.topic_prefix + PanelOutcomeRecorded.topic, panels)
            runtime = HubRuntime(settings, bootstrap)
            await runtime.start()
            hub_seconds = await _wait_processed(runtime, events)
        finally:
            await runtime.stop()
        bare_seconds = await bare_loop(
            bootstrap,
            settings.topic_prefix + PanelOutcomeRecorded.topic,
            settings.topic_prefix + "out.family.v1",
            events,
        )
    hub_rate, bare_rate = events / hub_seconds, events / bare_seconds
    return {
        "scenario": "router throughput, 1 process",
        "events": events,
        "hub_events_per_s": round(hub_rate),
        "bare_events_per_s": round(bare_rate),
        "ratio": round(hub_rate / bare_rate, 3),
        "target_ratio": 0.6,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/router.json"))
    args = parser.parse_args()
    configure_logging("json", "WARNING")  # per-event log lines are not what is measured
    state = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    info = kafka_local.up(state_dir=state)
    try:
        result = asyncio.run(run(args.events, info.bootstrap_servers))
    finally:
        kafka_local.down(state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:{width}}  {value}")


if __name__ == "__main__":
    main()
