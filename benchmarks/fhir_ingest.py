"""FHIR ingest: health-advice message Bundles accepted per second by one `hub run --roles intake`
process (parse, validate with the R4B models and UK Core rules, map, publish, answer). Routing
runs in a process of its own, as the issue's deployment has it.

Each Bundle answers a distinct advice request with a QuestionnaireResponse, posted over real
sockets by concurrent clients. The baseline is the same clients fetching ``/fhir/metadata`` from
the same process: what the HTTP stack alone allows.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import aiohttp

from benchmarks.common import (
    Figure,
    bearer,
    bench_settings,
    encoded,
    hub_processes,
    peak_rss_mib,
    produce,
    sqlite_path,
    store_count,
    wait_until,
)
from hub.wiring import ensure_topics
from schemas.common import Agency, OrganisationRef
from schemas.events import AssessmentDecisionMade, AssessmentRequested
from tests.fhir_messages import questionnaire_response_message
from tests.helpers import person

TARGET = 1000
CONCURRENCY = 32
FHIR = "application/fhir+json"
PROVIDER = OrganisationRef(agency=Agency.NHS, code="RBS")


async def _closed_loop(count: int, call: Callable[[int], Awaitable[bool]]) -> tuple[float, int]:
    """Requests per second with CONCURRENCY clients each sending its next request when answered."""
    queue = iter(range(count))
    ok = 0

    async def client() -> None:
        nonlocal ok
        for i in queue:
            answered = await call(i)  # awaited first: `ok += await ...` would read ok before the await
            ok += answered

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started), ok


async def run(bootstrap: str, workdir: Path, bundles: int) -> list[Figure]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    case_ids = [f"F-{i}" for i in range(bundles)]
    people = {c: person(i) for i, c in enumerate(case_ids)}
    processes = hub_processes(settings, bootstrap, workdir, "fhir", [["intake"], ["route", "dispatch"]])
    hub = processes[0]  # the intake
    for process in processes:
        process.env["HUB_TODAY"] = "2026-02-09"
        await asyncio.to_thread(process.start)
    try:
        await produce(
            bootstrap,
            settings.topic_prefix,
            encoded(
                AssessmentRequested(
                    case_id=c, la_code="202", person=people[c], requested_by="parent", received_date="2026-01-05"
                )
                for c in case_ids
            ),
        )
        await wait_until(lambda: store_count(settings, "cases") >= bundles, 600, "cases opened")
        await produce(
            bootstrap,
            settings.topic_prefix,
            encoded(
                AssessmentDecisionMade(
                    case_id=c, la_code="202", decision="assess", decision_date=date(2026, 2, 9), advisers=[PROVIDER]
                )
                for c in case_ids
            ),
        )
        to_provider = f"where recipient_code = '{PROVIDER.code}'"
        await wait_until(
            lambda: store_count(settings, "advice_requests", to_provider) >= bundles, 600, "health advice requested"
        )
        with sqlite3.connect(sqlite_path(settings)) as db:
            requests = db.execute(f"select request_id, case_id from advice_requests {to_provider}").fetchall()
        messages = [
            json.dumps(questionnaire_response_message(f"BENCH-{n}", request_id, people[case_id].nhs_number or ""))
            for n, (request_id, case_id) in enumerate(requests)
        ]

        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        token = await bearer("nhs-rbs")
        async with aiohttp.ClientSession(base_url=hub.url, connector=connector) as session:

            async def submit(i: int) -> bool:
                async with session.post(
                    "/fhir/$process-message", data=messages[i], headers={"content-type": FHIR, **token}
                ) as response:
                    await response.read()
                    return response.status == 200

            async def metadata(_: int) -> bool:
                async with session.get("/fhir/metadata") as response:
                    await response.read()
                    return response.status == 200

            floor, _ = await _closed_loop(len(messages), metadata)
            rate, accepted = await _closed_loop(len(messages), submit)
        if accepted != len(messages):
            raise RuntimeError(f"only {accepted} of {len(messages)} advice messages were accepted")
        rss = peak_rss_mib(hub.pid)
    finally:
        for process in processes:
            await asyncio.to_thread(process.stop)
    return [
        Figure(
            "FHIR ingest",
            f"advice Bundles accepted/s, 1 intake process, {CONCURRENCY} clients",
            round(rate),
            "bundles/s",
            baseline=round(floor),
            baseline_name="GET /fhir/metadata, same process",
            target=f">= {TARGET}/s",
            met=rate >= TARGET,
            peak_rss_mib=rss,
            detail={"bundles": len(messages)},
        )
    ]
