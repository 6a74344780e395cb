"""Memory with a national-sized store: a hub process whose store holds a million open cases (EHC
plans issued, reviewed within the year, young people of every school age) runs a full sweep of
the statutory clocks and the transition planner, then routes new events. Its peak RSS is the
figure; the baseline is the same hub process over an empty store.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import uvloop

from benchmarks.common import (
    Figure,
    assessment_requests,
    bench_settings,
    encoded,
    own_peak_rss_mib,
    produce,
    quiet_logging,
    sqlite_path,
    wait_until,
)
from hub.domain.ids import derived_id
from hub.settings import Settings
from hub.store import Store
from hub.wiring import HubRuntime, ensure_topics

TARGET_MIB = 1024
NEW_EVENTS = 5_000
CHUNK = 50_000


def _case_rows(start: int, stop: int, today: date, rng: random.Random) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(start, stop):
        received = today - timedelta(days=rng.randint(400, 3000))
        dob = today - timedelta(days=rng.randint(2 * 365, 18 * 365 - 1))
        person = {"la_person_id": f"M{i}", "la_code": "202", "date_of_birth": dob.isoformat()}
        rows.append(
            (
                f"M-{i}",
                "202",
                received.isoformat(),
                5,
                5,
                json.dumps(person),
                derived_id(f"la_person_id:M{i}", "person"),
                "assess",
                (received + timedelta(weeks=5)).isoformat(),
                (received + timedelta(weeks=14)).isoformat(),
                "issue-plan",
                (received + timedelta(weeks=19)).isoformat(),
                (today - timedelta(days=rng.randint(1, 300))).isoformat(),
            )
        )
    return rows


async def fill_store(settings: Settings, cases: int) -> None:
    """Write the cases straight into the store: routing them would measure the router, not memory."""
    store = Store(settings.database_url)
    await store.create_schema()
    await store.close()
    rng = random.Random(18)
    today = date.today()
    with sqlite3.connect(sqlite_path(settings)) as db:
        for start in range(0, cases, CHUNK):
            db.executemany(
                "insert into cases (case_id, la_code, received_date, stage_rank, event_count, person, person_key,"
                " decision, decision_date, panel_date, panel_outcome, final_plan_date, last_review_date)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _case_rows(start, min(cases, start + CHUNK), today, rng),
            )
        db.commit()


def _hub_process(settings: Settings, bootstrap: str, expected: int, results: Any) -> None:
    """Sweep every clock once, route ``expected`` new events, report peak RSS and timings."""
    quiet_logging()

    async def work() -> dict[str, Any]:
        runtime = HubRuntime(settings, bootstrap)
        await runtime.start()
        try:
            started = time.perf_counter()
            sweep = await runtime.watcher.sweep()
            sweep_seconds = time.perf_counter() - started
            await wait_until(lambda: runtime.core.processed >= expected, 600, "new events routed")
            return {
                "peak_rss_mib": own_peak_rss_mib(),
                "sweep_seconds": round(sweep_seconds, 1),
                "alerts": sweep.count,
                "processed": runtime.core.processed,
            }
        finally:
            await runtime.stop()

    results.put(uvloop.run(work()))  # the event loop `hub run` uses


async def _measure(bootstrap: str, workdir: Path, cases: int) -> dict[str, Any]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    await fill_store(settings, cases)
    await produce(bootstrap, settings.topic_prefix, encoded(assessment_requests([f"N-{i}" for i in range(NEW_EVENTS)])))
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    proc = context.Process(target=_hub_process, args=(settings, bootstrap, NEW_EVENTS, results))
    proc.start()
    outcome: dict[str, Any] = await asyncio.to_thread(results.get, True, 3600)
    await asyncio.to_thread(proc.join, 60)
    return outcome


async def run(bootstrap: str, workdir: Path, cases: int) -> list[Figure]:
    empty = await _measure(bootstrap, workdir, 0)
    full = await _measure(bootstrap, workdir, cases)
    return [
        Figure(
            "memory",
            f"peak RSS MiB, {cases:,} cases in the store: clock sweep, then {NEW_EVENTS:,} events routed",
            full["peak_rss_mib"],
            "MiB",
            baseline=empty["peak_rss_mib"],
            baseline_name="the same over an empty store",
            target=f"< {TARGET_MIB} MiB",
            met=full["peak_rss_mib"] < TARGET_MIB,
            peak_rss_mib=full["peak_rss_mib"],
            detail={"cases": cases, "with_cases": full, "empty_store": empty},
        )
    ]
