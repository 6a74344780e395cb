"""The hub tells the truth while its event log is down, and recovers by itself when it is back.

A broker of the test's own is stopped under a running hub: requests are answered 503 with
Retry-After within the publish timeout (never a hang, never a 500), readiness says which
dependency is missing, and once the broker is started again from its kept data the hub is ready
and processes new events without being restarted."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from hub.devtools import kafka_local
from tests.helpers import eventually
from tests.integration.ehc_world import ehc_world, request_body

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
