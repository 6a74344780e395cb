"""CSV import: rows per second for one file of assessment requests posted to `hub run`
(parse, validate identifiers and dates, check against the store, publish, report), run as a job
(``Prefer: respond-async``) and followed to the end, with ``/healthz`` polled throughout. Reports
the hub's peak memory above its idle size, and the slowest ``/healthz`` answer during the import.

The baseline reads the same file with the standard library's csv module and publishes each row
as JSON with the same acknowledgements: parsing and publishing with no checks at all.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import time
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer

from benchmarks.common import Figure, bearer, bench_settings, peak_rss_mib, rss_mib
from hub.wiring import ensure_topics
from schemas.events import AssessmentRequested
from tests.helpers import nhs_number
from tests.integration.hub_process import HubProcess

COLUMNS = (
    "case_id,la_code,received_date,requested_by,nhs_number,upn,la_person_id,"
    "given_name,family_name,date_of_birth,year_group"
)


def csv_file(rows: int) -> str:
    lines = [COLUMNS]
    lines += [f"CSV-{i:07d},202,05/01/2026,parent,{nhs_number(i)},,P{i},Sam,Jones,2015-09-01,5" for i in range(rows)]
    return "\n".join(lines) + "\n"


async def bare_import(bootstrap: str, topic: str, text: str) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, json.dumps(row).encode(), key=row["case_id"].encode())
            for row in csv.DictReader(io.StringIO(text))
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def run(bootstrap: str, workdir: Path, rows: int) -> list[Figure]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    text = csv_file(rows)
    hub = HubProcess(settings, bootstrap, workdir / "csv-hub.log")
    await asyncio.to_thread(hub.start)
    try:
        timeout = aiohttp.ClientTimeout(total=1800)
        async with aiohttp.ClientSession(base_url=hub.url, timeout=timeout) as session:
            idle = rss_mib(hub.pid)
            headers = {"content-type": "text/csv", **await bearer("la-202")}
            started = time.perf_counter()
            async with session.post(
                "/api/v1/imports/assessment-requests",
                data=text.encode(),
                headers={**headers, "Prefer": "respond-async"},
            ) as response:
                job = response.headers["location"]
            slowest_health = 0.0
            for polls in itertools.count():
                if polls % 5 == 0:  # the job's progress twice a second, with a token that has not expired
                    async with session.get(job, headers=await bearer("la-202")) as answer:
                        report = await answer.json()
                    if report["state"] not in ("receiving", "running"):
                        break
                asked = time.perf_counter()
                async with session.get("/healthz") as health:
                    await health.read()
                slowest_health = max(slowest_health, time.perf_counter() - asked)
                await asyncio.sleep(0.1)
            seconds = time.perf_counter() - started
        if report["state"] != "done" or report["imported"] != rows:
            raise RuntimeError(f"import failed: {str(report)[:500]}")
        rss = peak_rss_mib(hub.pid)
    finally:
        await asyncio.to_thread(hub.stop)
    bare = bench_settings(workdir)  # topics of its own, laid out like the hub's
    await ensure_topics(bare, bootstrap)
    bare_seconds = await bare_import(bootstrap, bare.topic_prefix + AssessmentRequested.topic, text)
    return [
        Figure(
            "CSV import",
            f"rows/s, one {rows:,}-row file",
            round(rows / seconds),
            "rows/s",
            baseline=round(rows / bare_seconds),
            baseline_name="csv module + publish each row",
            peak_rss_mib=rss,
            detail={
                "rows": rows,
                "seconds": round(seconds, 1),
                "file_mib": round(len(text) / 2**20, 1),
                "idle_rss_mib": idle,
                "peak_above_idle_mib": round(rss - idle, 1),
                "slowest_healthz_ms": round(slowest_health * 1000, 1),
            },
        )
    ]
