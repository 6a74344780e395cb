"""Hostile bodies get a 4xx naming what is wrong, over a real socket, and the hub stays up."""

from __future__ import annotations

import pytest

from tests.integration.ehc_world import ehc_world

pytestmark = pytest.mark.kafka

DEEP = b"[" * 50_000 + b"]" * 50_000
LONG_NUMBER = b'{"specversion": ' + b"7" * 100_000 + b"}"


async def test_deep_nesting_and_huge_numbers_are_refused_not_crashed_on(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        cases = [
            ("/api/v1/events", "application/cloudevents+json"),
            ("/fhir/Bundle", "application/fhir+json"),
            ("/fhir/$process-message", "application/fhir+json"),
            ("/api/v1/assessment-requests", "application/json"),
        ]
        for path, content_type in cases:
            for body in (DEEP, LONG_NUMBER):
                answer = await world.client.post(path, content=body, headers={"Content-Type": content_type})
                assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
                if path.startswith("/fhir"):
                    assert answer.json()["resourceType"] == "OperationOutcome"
        events = await world.client.post("/api/v1/events", content=DEEP, headers={"Content-Type": "application/json"})
        assert events.json()["rule"] == "json-depth"
        assert (await world.client.get("/healthz")).status_code == 200
