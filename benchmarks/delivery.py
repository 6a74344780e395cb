"""Delivery to agencies' own systems: panel outcomes posted at a steady rate to `hub run` in its own
process, each shared with three organisations whose systems are HTTP receivers in this process:
the NHS commissioner's FHIR endpoint, children's social care's webhook and the school's webhook.

``split`` runs routing and dispatch as two processes (``HUB_ROLES``), the router taking the load.

Reported: deliveries per second while the load lasted against the rate the load needs (three per
event), the backlog left when it ended (the target: under one second's worth), and the p99 from
the 202 that accepted an event to a receiver having its copy.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import (
    Figure,
    assessment_requests,
    bearer,
    bench_settings,
    encoded,
    hub_processes,
    panel_outcomes,
    peak_rss_mib,
    percentile,
    produce,
    store_count,
    wait_until,
)
from benchmarks.latency import CONNECTIONS
from hub.wiring import ensure_topics
from schemas.envelope import encode, envelope_for
from tests.servers import serving

SECRET = "whsec_" + base64.b64encode(b"benchmark-signing-key-0000000001").decode()
RECIPIENTS = {"QMJ": "nhs", "202": "childrens-social-care", "100001": "school"}


class Receiver:
    """An agency system that takes every POST at once and notes when each case's copy arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.arrived.setdefault(case_of(json.loads(body)), time.perf_counter())
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


def case_of(doc: dict[str, Any]) -> str:
    if doc.get("resourceType") == "Bundle":  # a FHIR message: its Communication carries the case
        return str(doc["entry"][1]["resource"]["about"][0]["identifier"]["value"])
    return str(doc["data"]["case_id"])


async def run(bootstrap: str, workdir: Path, rps: int, seconds: int, split: bool = False) -> list[Figure]:
    settings = bench_settings(workdir)
    await ensure_topics(settings, bootstrap)
    total = rps * seconds
    case_ids = [f"D-{i}" for i in range(total)]
    receivers = {code: Receiver() for code in RECIPIENTS}
    name = "delivery-split" if split else "delivery"
    processes = hub_processes(settings, bootstrap, workdir, name, [["route"], ["dispatch"]] if split else [])
    hub = processes[0]  # the one that accepts and routes
    async with (
        serving(receivers["QMJ"]) as nhs_url,
        serving(receivers["202"]) as csc_url,
        serving(receivers["100001"]) as school_url,
    ):
        for process in processes:
            process.env.update(
                HUB_FHIR_ENDPOINTS=json.dumps({"QMJ": nhs_url}),
                HUB_WEBHOOKS=json.dumps({"202": csc_url, "100001": school_url}),
                HUB_DISPATCH__WEBHOOK_SECRETS=json.dumps({"202": SECRET, "100001": SECRET}),
            )
            await asyncio.to_thread(process.start)
        try:
            await produce(bootstrap, settings.topic_prefix, encoded(assessment_requests(case_ids)))
            await wait_until(lambda: store_count(settings, "cases") >= total, 600, "cases opened")
            pending = "where status = 'pending'"
            await wait_until(
                lambda: (
                    store_count(settings, "dispatches", "") >= 3 * total
                    and store_count(settings, "dispatches", pending) == 0
                ),
                900,
                "the opening notifications delivered",
            )
            for receiver in receivers.values():
                receiver.arrived.clear()
            accepted: dict[str, float] = {}
            bodies = [(p.case_id, encode(envelope_for(p, source="/la-sen/202"))) for p in panel_outcomes(case_ids)]
            headers = {"content-type": "application/cloudevents+json", **await bearer("la-202")}
            connector = aiohttp.TCPConnector(limit=CONNECTIONS)
            async with aiohttp.ClientSession(base_url=hub.url, connector=connector) as session:

                async def post(case_id: str, body: bytes) -> None:
                    async with session.post("/api/v1/events", data=body, headers=headers) as response:
                        await response.read()
                    if response.status == 202:
                        accepted[case_id] = time.perf_counter()

                started = time.perf_counter()
                posts = []
                for i, (case_id, body) in enumerate(bodies):
                    delay = started + i / rps - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    posts.append(asyncio.create_task(post(case_id, body)))
                await asyncio.gather(*posts)
                ended = time.perf_counter()
            in_window = sum(1 for r in receivers.values() for t in r.arrived.values() if t <= ended)
            backlog_at_end = 3 * len(accepted) - in_window
            await wait_until(
                lambda: all(len(r.arrived) >= len(accepted) for r in receivers.values()), 600, "every copy received"
            )
            rss = sum(peak_rss_mib(p.pid) for p in processes)
        finally:
            for process in processes:
                await asyncio.to_thread(process.stop)
    latencies = [
        max(0.0, r.arrived[c] - accepted[c]) * 1000 for r in receivers.values() for c in accepted if c in r.arrived
    ]
    window = ended - started
    delivered_per_s = in_window / window
    needed_per_s = 3 * len(accepted) / window
    p99 = percentile(latencies, 0.99)
    detail = {
        "events": total,
        "accepted": len(accepted),
        "recipients": len(receivers),
        "deliveries_in_window": in_window,
        "backlog_at_end": backlog_at_end,
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(max(latencies), 1),
    }
    common: dict[str, Any] = {"peak_rss_mib": rss, "detail": detail}
    return [
        Figure(
            name,
            f"deliveries/s to {len(receivers)} receivers, {rps} events/s for {seconds}s",
            round(delivered_per_s, 1),
            "deliveries/s",
            baseline=round(needed_per_s, 1),
            baseline_name="deliveries/s the load needs",
            target="backlog at the end < 1 s of load",
            met=backlog_at_end < needed_per_s,
            **common,
        ),
        Figure(name, "events/s accepted", round(len(accepted) / window, 1), "events/s", **common),
        Figure(name, "backlog at the end", backlog_at_end, "records", **common),
        Figure(name, "p99 ms, accepted to received", round(p99, 1), "ms", **common),
    ]
