"""National volume: England's busiest hour of EHC traffic, played through one `hub run` process
as fast as it will take it, to check the sizing arithmetic in the README on this machine.

The arithmetic: 154,489 requests for assessment and 638,745 plans a year (DfE, 2024), about 26
canonical events per assessment and 15 per annual review, over 250 working days, with a fifth of
a day's traffic in its busiest hour. The hour is played as requests opening cases and panel
outcomes shared with three agencies (four records out each: three copies and their audit), the
heaviest events the hub routes.

Reported: how many such hours one process routes in an hour (the headroom; the target is at
least 1), with the events/s it took.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from benchmarks.common import (
    Figure,
    assessment_requests,
    bench_settings,
    encoded,
    panel_outcomes,
    peak_rss_mib,
    produce,
    store_count,
    wait_until,
)
from hub.wiring import ensure_topics
from tests.integration.hub_process import HubProcess

REQUESTS_A_YEAR = 154_489
PLANS = 638_745
EVENTS_PER_ASSESSMENT = 26
EVENTS_PER_REVIEW = 15
WORKING_DAYS = 250
BUSIEST_HOUR_SHARE = 0.2


def busiest_hour() -> int:
    """Canonical events in England's busiest hour of EHC traffic."""
    a_year = REQUESTS_A_YEAR * EVENTS_PER_ASSESSMENT + PLANS * EVENTS_PER_REVIEW
    return round(a_year / WORKING_DAYS * BUSIEST_HOUR_SHARE)


async def run(bootstrap: str, workdir: Path, share: float = 1.0) -> list[Figure]:
    """``share`` plays a fraction of the hour (the quick sizes), and scales the target with it."""
    hour = busiest_hour()
    events = max(2, round(hour * share)) // 2 * 2
    case_ids = [f"N-{i}" for i in range(events // 2)]
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    hub = HubProcess(settings, bootstrap, workdir / "national-hub.log")
    await asyncio.to_thread(hub.start)
    try:
        started = time.perf_counter()
        await produce(bootstrap, settings.topic_prefix, encoded(assessment_requests(case_ids)))
        await produce(bootstrap, settings.topic_prefix, encoded(panel_outcomes(case_ids)))
        await wait_until(lambda: store_count(settings, "processed_events") >= events, 1800, "the hour routed")
        elapsed = time.perf_counter() - started
        rss = peak_rss_mib(hub.pid)
    finally:
        await asyncio.to_thread(hub.stop)
    per_second = events / elapsed
    headroom = per_second * 3600 / hour  # the whole hour, whatever share of it was played
    detail = {"busiest_hour_events": hour, "played": events, "seconds": round(elapsed, 1)}
    return [
        Figure(
            "national",
            f"England's busiest hour ({events:,} of {hour:,} events), routed by one process",
            round(headroom, 1),
            "hours of it per hour",
            baseline=1.0,
            baseline_name="the hour itself",
            target="≥ 1",
            met=headroom >= 1,
            peak_rss_mib=rss,
            detail=detail | {"events_per_second": round(per_second, 1)},
        )
    ]
