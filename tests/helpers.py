"""Shared helpers: an isolated hub on the shared broker, event factories, reading topics."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.ops.kafka_io import read_topic
from hub.pipeline.delivery import StageHook
from hub.pipeline.records import Record
from hub.settings import Settings
from hub.wiring import HubRuntime, ensure_topics
from schemas.common import Agency, OrganisationRef, PersonRef
from schemas.envelope import encode, envelope_for
from schemas.events import AssessmentRequested, Event, PanelOutcomeRecorded


def isolated_settings(database_url: str, **overrides: Any) -> Settings:
    """Unique topic prefix and group id, so tests share one broker without seeing each other."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    values: dict[str, Any] = {
        "topic_prefix": prefix,
        "group_id": f"{prefix}hub",
        "database_url": database_url,
        "retry_delays_seconds": [0.2, 0.5],
        "topic_partitions": 3,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_hub(
    settings: Settings, bootstrap: str, stage_hook: StageHook | None = None
) -> AsyncIterator[HubRuntime]:
    await ensure_topics(settings, bootstrap)
    runtime = HubRuntime(settings, bootstrap, stage_hook=stage_hook)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def send_event(p: AIOKafkaProducer, settings: Settings, event: Event, **envelope_kw: Any) -> str:
    env = envelope_for(event, source="/tests", **envelope_kw)
    await p.send_and_wait(settings.topic_prefix + event.topic, encode(env), key=event.key().encode())
    return env.id


def person(n: int = 0) -> PersonRef:
    return PersonRef(
        nhs_number=nhs_number(n),
        la_person_id=f"P{n}",
        la_code="202",
        given_name="Amira",
        family_name="Okafor",
        date_of_birth=date(2010, 3, 14),
    )


def nhs_number(n: int) -> str:
    """A valid NHS number in the 999 test range, distinct for each n."""
    for body in (f"999{n % 1_000_000:06d}", f"999{(n + 500_000) % 1_000_000:06d}"):
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            return body + str(check)
    raise ValueError(f"no test-range NHS number for {n}")


SCHOOL = OrganisationRef(agency=Agency.SCHOOL, code="100001", name="Hillside Primary")


def assessment_requested(case_id: str, n: int = 0) -> AssessmentRequested:
    """A request naming the child's school, so the school is who the case's disclosures go to."""
    return AssessmentRequested(
        case_id=case_id,
        la_code="202",
        person=person(n),
        requested_by="parent",
        received_date=date(2026, 1, 5),
        school=SCHOOL,
    )


def panel_outcome(case_id: str) -> PanelOutcomeRecorded:
    return PanelOutcomeRecorded(
        case_id=case_id,
        la_code="202",
        panel_date=date(2026, 3, 2),
        outcome="issue-plan",
        health_summary="speech and language therapy weekly",
        social_care_summary="short breaks",
        education_summary="specialist placement",
    )


async def topic_records(bootstrap: str, topic: str) -> list[Record]:
    return [r async for r in read_topic(bootstrap, topic)]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60.0, interval: float = 0.2) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def open_cases(store: Any, p: AIOKafkaProducer, settings: Settings, case_ids: list[str]) -> None:
    """Record an assessment request for each case and wait until the hub has applied them all."""
    ids = []
    for n, case_id in enumerate(case_ids):
        env = envelope_for(assessment_requested(case_id, n), source="/tests")
        await p.send(settings.topic_prefix + AssessmentRequested.topic, encode(env), key=case_id.encode())
        ids.append(env.id)
    await p.flush()

    async def applied() -> bool:
        return len(await store.processed_ids(ids)) == len(ids)

    await eventually(applied, timeout=120)


def disclosures(audits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each disclosure the version 2 audit records name, with the audited event and case beside it."""
    return [
        {"case_id": a["case_id"], "source_event_id": a["source_event_id"], **d}
        for a in audits
        for d in a["disclosures"]
    ]


def audited_recipients(records: list[Any]) -> set[str]:
    """Who the version 2 audit records among ``records`` (the router's outbound records) name."""
    return {d["recipient"] for d in disclosures([r.envelope.data for r in records if r.topic == "hub.audit.v2"])}
