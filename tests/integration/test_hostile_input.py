"""Hostile bodies get a 4xx naming what is wrong, over a real socket, and the hub stays up."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from benchmarks.common import peak_rss_mib
from tests.fhir_messages import questionnaire_response_message
from tests.helpers import person
from tests.integration.ehc_world import ehc_world

pytestmark = pytest.mark.kafka

DEEP = b"[" * 50_000 + b"]" * 50_000
CSV_IMPORT = "/api/v1/imports/assessment-requests"
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
        wrong_type = questionnaire_response_message("B-HOSTILE", "REQ-1", person(1).nhs_number or "")
        wrong_type["entry"][0]["resource"]["source"]["endpoint"] = 42  # crashes fhir.resources' own url validator
        for path in ("/fhir/Bundle", "/fhir/$process-message"):
            answer = await world.client.post(path, json=wrong_type, headers={"Content-Type": "application/fhir+json"})
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
            assert answer.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.ofType(MessageHeader)"]
        events = await world.client.post("/api/v1/events", content=DEEP, headers={"Content-Type": "application/json"})
        assert events.json()["rule"] == "json-depth"
        assert (await world.client.get("/healthz")).status_code == 200


def _write_operations(document: dict) -> list[tuple[str, str, str]]:
    """(method, path, content type) of every operation that takes a body, path parameters filled."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in ("post", "put", "patch") and content:
                concrete = path.replace("{kind}", "assessment-requests")
                concrete = "/".join("x" if part.startswith("{") else part for part in concrete.split("/"))
                found.append((method.upper(), concrete, next(iter(content))))
    return found


async def _chunks(size: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    for _ in range(size // chunk):
        yield b" " * chunk


async def test_every_write_route_bounds_its_body_as_it_streams_in(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url, csv_max_bytes=100 * 1024 * 1024) as world:
        document = (await world.client.get("/openapi.json")).json()
        operations = _write_operations(document)
        assert len(operations) > 15, "the walk found the write routes"
        ten_mb = 10 * 1024 * 1024
        for method, path, content_type in operations:
            for body in (b" " * ten_mb, _chunks(ten_mb)):  # declared length, then chunked
                headers = {"content-type": content_type, "X-Test-As": "la-202"}
                answer = await world.client.request(method, path, content=body, headers=headers)
                if "/imports/" in path:  # CSV imports stream to disk under their own, larger limit
                    assert answer.status_code < 500, (method, path, answer.status_code)
                    continue
                assert answer.status_code == 413, (method, path, answer.status_code, answer.text[:200])
                if path.startswith("/fhir"):
                    assert answer.json()["issue"][0]["code"] == "too-long"
                else:
                    assert answer.json()["rule"] == "max-size"
        before = peak_rss_mib(os.getpid())
        for path, content_type in (("/api/v1/events", "application/json"), (CSV_IMPORT, "text/csv")):
            headers = {"content-type": content_type, "X-Test-As": "la-202"}
            huge = await world.client.post(path, content=_chunks(200 * 1024 * 1024), headers=headers)
            assert huge.status_code == 413, (path, huge.status_code, huge.text[:200])
        assert peak_rss_mib(os.getpid()) - before < 100, "a 200 MB body was never held whole"
        assert (await world.client.get("/healthz")).status_code == 200
