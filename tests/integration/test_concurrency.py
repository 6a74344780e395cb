"""What must happen once happens once when duplicates arrive at the same moment."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from tests.helpers import topic_records
from tests.integration.ehc_world import SCHOOL, World, advice_body, decision_body, ehc_world, request_body

pytestmark = pytest.mark.kafka


async def _school_request(world: World, case_id: str) -> dict[str, Any]:
    await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body(case_id)))["id"])
    await world.wait_applied((await world.post("/api/v1/assessment-decisions", decision_body(case_id)))["id"])
    fetched = (await world.client.get("/api/v1/advice-requests", params={"recipient": SCHOOL["code"]})).json()
    return next(r for r in fetched if r["case_id"] == case_id)


async def test_identical_requests_at_once_make_one_event_and_get_one_answer(kafka: str, store_url: str) -> None:
    async with ehc_world(kafka, store_url) as world:
        request = await _school_request(world, "CC-1")
        body = advice_body("CC-1", request, "2026-03-02", SCHOOL)
        answers = await asyncio.gather(*(world.client.post("/api/v1/advice", json=body) for _ in range(4)))
        assert {a.status_code for a in answers} == {202}
        assert len({a.json()["id"] for a in answers}) == 1, "the same content names the same event"
        event_id = answers[0].json()["id"]
        await world.wait_applied(event_id)
        records = await topic_records(kafka, world.runtime.names.physical("ehc.advice-submissions.v1"))
        assert [json.loads(r.value or b"")["id"] for r in records].count(event_id) == 1, "one event on Kafka"
        again = await world.client.post("/api/v1/advice", json=body)
        assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")


async def test_different_answers_to_one_request_at_once_get_one_acceptance_and_409s(kafka: str, store_url: str) -> None:
    async with ehc_world(kafka, store_url) as world:
        request = await _school_request(world, "CC-2")
        bodies = [advice_body("CC-2", request, "2026-03-02", SCHOOL, summary=f"version {n}") for n in range(3)]
        answers = await asyncio.gather(*(world.client.post("/api/v1/advice", json=b) for b in bodies))
        assert sorted(a.status_code for a in answers) == [202, 409, 409], [a.text for a in answers]
        refused = [a.json() for a in answers if a.status_code == 409]
        assert {(r["field"], r["rule"]) for r in refused} == {("data.request_id", "single-submission")}
        accepted = next(a.json()["id"] for a in answers if a.status_code == 202)
        await world.wait_applied(accepted)
        dead = (await world.client.get("/ops/dead-letters", params={"case_id": "CC-2"})).json()
        assert dead == [], "nothing told 'accepted' is dropped later"


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_duplicates_sent_to_two_instances_sharing_postgresql_happen_once(kafka: str, store_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    shared = {"topic_prefix": prefix, "group_id": f"{prefix}hub"}  # one hub, two instances
    async with ehc_world(kafka, store_url, **shared) as first, ehc_world(kafka, store_url, **shared) as second:
        request = await _school_request(first, "CC-3")
        body = advice_body("CC-3", request, "2026-03-02", SCHOOL)
        answers = await asyncio.gather(*(w.client.post("/api/v1/advice", json=body) for w in (first, second) * 3))
        # One that reaches an instance after the event was applied is answered "already accepted" (200).
        assert {a.status_code for a in answers} <= {200, 202} and 202 in {a.status_code for a in answers}
        assert len({a.json()["id"] for a in answers}) == 1, [a.text for a in answers]
        event_id = answers[0].json()["id"]
        await first.wait_applied(event_id)
        records = await topic_records(kafka, first.runtime.names.physical("ehc.advice-submissions.v1"))
        assert [json.loads(r.value or b"")["id"] for r in records].count(event_id) == 1, "one event on Kafka"

        request = await _school_request(second, "CC-4")
        bodies = [advice_body("CC-4", request, "2026-03-02", SCHOOL, summary=f"version {n}") for n in range(4)]
        answers = await asyncio.gather(
            *(w.client.post("/api/v1/advice", json=b) for w, b in zip((first, second) * 2, bodies, strict=True))
        )
        assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text for a in answers]
        await second.wait_applied(next(a.json()["id"] for a in answers if a.status_code == 202))
        assert (await second.client.get("/ops/dead-letters", params={"case_id": "CC-4"})).json() == []


async def test_identical_cloudevents_without_an_id_sent_at_once_make_one_event(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        event = {"type": "assessment-requested", "data": request_body("CC-5")}
        headers = {"content-type": "application/cloudevents+json", "X-Test-As": "la-202"}
        answers = await asyncio.gather(
            *(world.client.post("/api/v1/events", json=event, headers=headers) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers)[0] == 202 and {a.status_code for a in answers} <= {200, 202}
        assert len({a.json()["id"] for a in answers}) == 1, "the same content names the same event"
        keyed = await world.client.post(
            "/api/v1/events",
            json={**event, "data": request_body("CC-6")},
            headers={**headers, "Idempotency-Key": "k-6"},
        )
        resent = await world.client.post(
            "/api/v1/events",
            json={**event, "data": request_body("CC-6")},
            headers={**headers, "Idempotency-Key": "k-6"},
        )
        assert keyed.status_code == 202 and resent.status_code in (200, 202), resent.text
        assert keyed.json()["id"] == resent.json()["id"], "the key names the event"
        await world.wait_applied(keyed.json()["id"])
        records = await topic_records(kafka, world.runtime.names.physical("ehc.assessment-requests.v1"))
        cases = [json.loads(r.value or b"")["data"]["case_id"] for r in records]
        assert (cases.count("CC-5"), cases.count("CC-6")) == (1, 1)
