"""The hub tells the truth while its event log is down, and recovers by itself when it is back.

A broker of the test's own is stopped under a running hub: requests are answered 503 with
Retry-After within the publish timeout (never a hang, never a 500), readiness says which
dependency is missing, and once the broker is started again from its kept data the hub is ready
and processes new events without being restarted."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sqlite3
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hub.devtools import kafka_local
from hub.wiring import ensure_topics
from tests.helpers import eventually, isolated_settings, topic_records
from tests.identity import AsAgency, Tokens
from tests.integration.ehc_world import ehc_world, request_body
from tests.integration.hub_process import HubProcess

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="stops a local JVM broker of its own"),
]


async def test_broker_down_gets_503_and_not_ready_then_the_hub_recovers_by_itself(
    tmp_path: Path, sqlite_url: str
) -> None:
    state = tmp_path / "broker"
    info = await asyncio.to_thread(kafka_local.up, 1, state)
    try:
        async with ehc_world(info.bootstrap_servers, sqlite_url, publish_timeout_seconds=3.0) as world:
            opened = await world.post("/api/v1/assessment-requests", request_body("F-1"))
            await world.wait_applied(opened["id"])
            assert (await world.client.get("/readyz")).json() == {"status": "ready"}

            await asyncio.to_thread(kafka_local.down, state)
            started = time.monotonic()
            refused = await world.client.post("/api/v1/assessment-requests", json=request_body("F-2"))
            assert time.monotonic() - started < 20, "bounded by the publish timeout, not a hang"
            assert refused.status_code == 503 and refused.headers["retry-after"]
            assert "Kafka" in refused.json()["error"]
            bundle = await world.client.post(
                "/fhir/Bundle", content=b"{}", headers={"Content-Type": "application/fhir+json"}
            )
            assert bundle.status_code < 500 or bundle.json()["resourceType"] == "OperationOutcome"
            not_ready = await world.client.get("/readyz")
            assert not_ready.status_code == 503 and "Kafka" in not_ready.json()["status"]

            back = await asyncio.to_thread(kafka_local.up, 1, state)
            assert back.bootstrap_servers == info.bootstrap_servers, "the same ports: the hub finds it again"

            async def ready() -> bool:
                try:
                    return (await world.client.get("/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, timeout=90)
            # The 503 promised nothing either way: the producer may have delivered the record once the
            # broker was back. Resending the same content names the same event, so it happens once.
            again = await world.client.post("/api/v1/assessment-requests", json=request_body("F-2"))
            assert again.status_code in (200, 202), again.text
            await world.wait_applied(again.json()["id"])
    finally:
        await asyncio.to_thread(kafka_local.reset, state)


OUTAGE_SECONDS = float(os.environ.get("HUB_TEST_BROKER_OUTAGE_SECONDS", "60"))


async def test_a_hub_process_under_load_through_a_broker_outage_answers_in_time_logs_little_and_recovers(
    tmp_path: Path, sqlite_url: str, tokens: Tokens
) -> None:
    state = tmp_path / "broker"
    info = await asyncio.to_thread(kafka_local.up, 1, state)
    settings = isolated_settings(sqlite_url, publish_timeout_seconds=3.0)
    await ensure_topics(settings, info.bootstrap_servers)
    hub = HubProcess(settings, info.bootstrap_servers, tmp_path / "hub.log")
    hub.env["HUB_PUBLISH_TIMEOUT_SECONDS"] = str(settings.publish_timeout_seconds)
    await asyncio.to_thread(hub.start)
    answers: dict[str, int] = {}
    slowest = 0.0
    try:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30, auth=AsAgency(tokens)) as client:

            async def send(case_id: str) -> None:
                nonlocal slowest
                started = time.monotonic()
                answer = await client.post("/api/v1/assessment-requests", json=request_body(case_id))
                slowest = max(slowest, time.monotonic() - started)
                answers[case_id] = answer.status_code

            await send("L-0")
            await asyncio.to_thread(kafka_local.down, state)
            log_before = hub.log_path.stat().st_size
            ends, n, not_ready = time.monotonic() + OUTAGE_SECONDS, 0, 0
            while time.monotonic() < ends:  # steady load: two requests a second, and readiness
                n += 1
                await asyncio.gather(send(f"L-{n}a"), send(f"L-{n}b"), asyncio.sleep(1))
                not_ready += (await client.get("/readyz")).status_code == 503
            outage_log = hub.log_path.read_bytes()[log_before:].decode(errors="replace").splitlines()
            await asyncio.to_thread(kafka_local.up, 1, state)

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=90)
            await send("L-after")

        assert set(answers.values()) <= {202, 503}, answers
        assert answers["L-0"] == 202 and answers["L-after"] == 202
        assert slowest < settings.publish_timeout_seconds + 5, f"a request took {slowest:.1f} s"
        assert not_ready == n, "not ready throughout the outage"
        assert len(outage_log) < 60, f"{len(outage_log)} log lines in {OUTAGE_SECONDS} s:\n" + "\n".join(
            outage_log[:40]
        )
        accepted = sorted(case for case, status in answers.items() if status == 202)
        topic = settings.topic_prefix + "ehc.assessment-requests.v1"

        async def all_processed_once() -> bool:
            cases = Counter(
                json.loads(r.value)["data"]["case_id"] for r in await topic_records(info.bootstrap_servers, topic)
            )
            return all(cases[c] == 1 for c in accepted) and set(cases) <= set(answers)

        await eventually(all_processed_once, timeout=60)
    finally:
        await asyncio.to_thread(hub.stop)
        await asyncio.to_thread(kafka_local.reset, state)


async def test_a_store_that_cannot_write_gets_503_and_not_ready_and_nothing_is_lost(
    kafka: str, tmp_path: Path, tokens: Tokens
) -> None:
    """The hub process may not grow any file (RLIMIT_FSIZE of 0, set from outside with prlimit): its
    store's writes fail as on a full disk, while its sockets, and its log through a pipe, still work."""
    database = tmp_path / "hub.db"
    settings = isolated_settings(f"sqlite+aiosqlite:///{database}")
    hub = HubProcess(settings, kafka, tmp_path / "hub.log", piped_log=True)
    await asyncio.to_thread(hub.start)
    topic = settings.topic_prefix + "ehc.assessment-requests.v1"

    def applied(event_id: str) -> bool:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return db.execute("SELECT 1 FROM processed_events WHERE event_id = ?", (event_id,)).fetchone() is not None

    try:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30, auth=AsAgency(tokens)) as client:
            before = (await client.post("/api/v1/assessment-requests", json=request_body("S-1"))).json()["id"]
            await eventually(lambda: asyncio.to_thread(applied, before))

            unlimited = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.prlimit(hub.pid, resource.RLIMIT_FSIZE, (0, unlimited[1]))
            try:
                refused = await client.post("/api/v1/assessment-requests", json=request_body("S-2"))
                assert refused.status_code == 503 and refused.headers["retry-after"], refused.text
                assert "store" in refused.json()["error"]
                not_ready = await client.get("/readyz")
                assert not_ready.status_code == 503 and "store" in not_ready.json()["status"]
                assert (await client.get("/healthz")).status_code == 200, "alive, only not ready"
            finally:
                resource.prlimit(hub.pid, resource.RLIMIT_FSIZE, unlimited)

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=30)
            again = await client.post("/api/v1/assessment-requests", json=request_body("S-2"))
            assert again.status_code == 202, again.text
            await eventually(lambda: asyncio.to_thread(applied, again.json()["id"]))
        published = Counter(json.loads(r.value)["data"]["case_id"] for r in await topic_records(kafka, topic))
        assert published == Counter({"S-1": 1, "S-2": 1})
    finally:
        await asyncio.to_thread(hub.stop)
