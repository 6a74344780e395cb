"""The hub as a separate process: the README's path, and kill -9 in the middle of a stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from hub.devtools.kafka_local import free_port
from hub.store import Store
from schemas.envelope import encode, envelope_for
from tests.helpers import (
    assessment_requested,
    eventually,
    isolated_settings,
    open_cases,
    panel_outcome,
    producer,
    topic_records,
)
from tests.identity import AsAgency, Tokens
from tests.integration.hub_process import HubProcess, hub_cli, hub_env

pytestmark = pytest.mark.kafka

PERSONAL = ("Amira", "Okafor", "2010-03-14")


async def test_one_event_sent_with_the_cli_is_routed_and_traced(kafka: str, sqlite_url: str, tmp_path: Path) -> None:
    settings = isolated_settings(sqlite_url)
    hub = HubProcess(settings, kafka, tmp_path / "hub.log")
    await asyncio.to_thread(hub.start)
    try:
        request = {
            "type": "assessment-requested",
            "source": "/la/202/sen",
            "data": assessment_requested("CASE-README").model_dump(mode="json", exclude_none=True),
        }
        opened = await asyncio.to_thread(hub_cli, ["send", "-"], hub.env, json.dumps(request))
        assert opened.returncode == 0, opened.stderr
        event = panel_outcome("CASE-README")
        doc = json.loads(encode(envelope_for(event, source="/la/202/sen")))
        sent = await asyncio.to_thread(hub_cli, ["send", "-"], hub.env, json.dumps(doc))
        assert sent.returncode == 0, sent.stderr
        assert f"sent {doc['id']} to ehc.panel-outcomes.v1" in sent.stdout

        async def traced() -> bool:
            result = await asyncio.to_thread(hub_cli, ["trace", "CASE-README"], hub.env)
            return result.returncode == 0 and len(json.loads(result.stdout)["deliveries"]) == 6  # reg 4(2) 3, panel 3

        await eventually(traced)
        traced_case = json.loads((await asyncio.to_thread(hub_cli, ["trace", "CASE-README"], hub.env)).stdout)["case"]
        assert traced_case["person"]["nhs_number"] == "•••", "masked unless asked for"
        revealed = await asyncio.to_thread(hub_cli, ["trace", "CASE-README", "--show-personal-data"], hub.env)
        assert json.loads(revealed.stdout)["case"]["person"]["nhs_number"] == request["data"]["person"]["nhs_number"]
        bad = dict(doc, id="other", data=dict(doc["data"], la_code="2"))
        refused = await asyncio.to_thread(hub_cli, ["send", "-"], hub.env, json.dumps(bad))
        assert refused.returncode == 2
        assert "data.la_code" in refused.stderr and "la-code-format" in refused.stderr

        # A record that bypassed validation is dead-lettered; the operator lists, inspects, redrives it.
        async with producer(kafka) as p:
            await p.send_and_wait(settings.topic_prefix + "ehc.plans.v1", json.dumps(bad).encode(), key=b"CASE-README")

        async def listed() -> bool:
            result = await asyncio.to_thread(hub_cli, ["dlq", "list"], hub.env)
            return "1 dead letter(s)" in result.stdout

        await eventually(listed)
        listing = (await asyncio.to_thread(hub_cli, ["dlq", "list"], hub.env)).stdout
        assert "validate" in listing and "la_code" in listing and "case=CASE-README" in listing
        dlq_id = listing.split()[0]
        shown = await asyncio.to_thread(hub_cli, ["dlq", "show", dlq_id], hub.env)
        detail = json.loads(shown.stdout)
        assert detail["headers"]["__connect.errors.stage"] == "validate"
        assert detail["headers"]["hub.errors.field"] == "data.la_code"
        assert json.loads(detail["value"])["id"] == "other"
        redriven = await asyncio.to_thread(hub_cli, ["dlq", "redrive", "--all", "--actor", "ops-1"], hub.env)
        assert redriven.returncode == 0 and "1 redriven" in redriven.stdout
        nothing = await asyncio.to_thread(hub_cli, ["dlq", "redrive"], hub.env)
        assert nothing.returncode == 2 and "say which dead letters" in nothing.stderr
    finally:
        hub.stop()


async def test_http_ingress_answers_bad_input_with_the_field_and_rule(
    kafka: str, sqlite_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    settings = isolated_settings(sqlite_url)
    hub = HubProcess(settings, kafka, tmp_path / "hub.log")
    await asyncio.to_thread(hub.start)
    try:
        async with httpx.AsyncClient(base_url=hub.url, auth=AsAgency(tokens)) as client:
            good = {
                "type": "assessment-requested",
                "data": assessment_requested("CASE-HTTP", 3).model_dump(mode="json", exclude_none=True),
            }
            accepted = await client.post("/api/v1/events", json=good)
            assert accepted.status_code == 202
            assert accepted.json()["topic"] == "ehc.assessment-requests.v1"
            # Judged and deduplicated as the typed endpoints are: the same id twice is one event.
            again = {**good, "id": "11111111-2222-4333-8444-555555555555"}
            again["data"] = {**good["data"], "case_id": "CASE-HTTP-2"}
            first = await client.post("/api/v1/events", json=again)
            assert (first.status_code, first.json()["outcome"]) == (202, "accepted")

            async def applied() -> bool:
                return (await client.get("/ops/cases/CASE-HTTP-2/trace")).status_code == 200

            await eventually(applied)
            second = await client.post("/api/v1/events", json=again)
            assert (second.status_code, second.json()["outcome"]) == (200, "unchanged")
            orphan = {
                "type": "panel-outcome-recorded",
                "data": {
                    "case_id": "NO-SUCH-CASE",
                    "la_code": "202",
                    "panel_date": "2026-03-02",
                    "outcome": "issue-plan",
                },
            }
            unknown = await client.post("/api/v1/events", json=orphan)
            assert unknown.status_code == 404 and unknown.json()["rule"] == "known-case"
            bad_nhs = json.loads(json.dumps(good))
            bad_nhs["data"]["person"]["nhs_number"] = "9434765918"
            r = await client.post("/api/v1/events", json=bad_nhs)
            assert r.status_code == 422
            assert r.json()["field"] == "data.person.nhs_number"
            assert r.json()["rule"] == "nhs-number-modulus-11"
            r = await client.post("/api/v1/events", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["rule"] == "json"
            r = await client.post("/api/v1/events", json={"type": "no-such-event", "data": {}})
            assert r.status_code == 422 and r.json()["rule"] == "known-event-type"

            async def traced() -> bool:
                return (await client.get("/ops/cases/CASE-HTTP/trace")).status_code == 200

            await eventually(traced)
            assert (await client.get("/ops/cases/NOPE/trace")).status_code == 404
            spec = (await client.get("/asyncapi")).json()
            assert spec["asyncapi"].startswith("3.")
            assert any("ehc.assessment-requests.v1" in name for name in spec["channels"])
            assert "/api/v1/inbox/open" in spec["info"]["description"], "a reader of its own topic learns to open it"
        log = (tmp_path / "hub.log").read_text()
        assert "CASE-HTTP" in log, "the processed event is logged by id"
        for secret in (*PERSONAL, assessment_requested("x", 3).person.nhs_number or ""):
            assert secret not in log
    finally:
        hub.stop()


async def test_kill_9_in_the_middle_of_10000_events_loses_and_duplicates_nothing(
    kafka: str, store_url: str, tmp_path: Path
) -> None:
    total = 10_000
    settings = isolated_settings(store_url)
    hub = HubProcess(settings, kafka, tmp_path / "hub.log")
    await asyncio.to_thread(hub.start)
    store = Store(store_url)
    try:
        async with producer(kafka) as p:
            await open_cases(store, p, settings, [f"K9-{i}" for i in range(total)])
            topic = settings.topic_prefix + "ehc.panel-outcomes.v1"
            ids = []
            for i in range(total):
                env = envelope_for(panel_outcome(f"K9-{i}"), source="/la/202")
                ids.append(env.id)
                await p.send(topic, encode(env), key=f"K9-{i}".encode())
                if i == total // 2:
                    await p.flush()

                    async def some_processed() -> bool:
                        return (await store.counts())["processed_events"] > total + 500

                    await eventually(some_processed, timeout=120)
                    await asyncio.to_thread(hub.kill9)
            await p.flush()
        await asyncio.to_thread(hub.start)

        async def all_processed() -> bool:
            return (await store.counts())["processed_events"] == 2 * total

        await eventually(all_processed, timeout=300)
        counts = await store.counts()
        assert counts["cases"] == total
        assert counts["deliveries"] == 6 * total, "reg 4(2): 3 for each request; 3 for each panel outcome"
        snapshot = await store.snapshot()
        assert {c["event_count"] for c in snapshot["cases"]} == {2}
        assert {c["panel_outcome"] for c in snapshot["cases"]} == {"issue-plan"}
        assert set(ids) <= {e["event_id"] for e in snapshot["processed_events"]}
        school = await topic_records(kafka, settings.topic_prefix + "out.school.v1")
        panel = {json.loads(r.value or b"")["causationid"] for r in school} & set(ids)
        assert len(panel) == total
    finally:
        hub.stop()
        await store.close()


UNWRITABLE = "sqlite+aiosqlite:////etc/hostname/hub.db"  # under a file: no directory can be made there


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"HUB_DATABASE_URL": UNWRITABLE}, f"error: the store {UNWRITABLE} cannot be opened for writing"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}, "error: the event log (Kafka) at 127.0.0.1:9 cannot be reached"),
        (
            {"HUB_PRIVACY__MASTER_KEY_FILE": "/etc/hostname/master.key"},
            "error: the privacy master secret cannot be read or made",
        ),
    ],
)
def test_a_start_up_failure_is_one_line_and_a_non_zero_exit(
    kafka: str, sqlite_url: str, override: dict[str, str], says: str
) -> None:
    env = {**hub_env(isolated_settings(sqlite_url), kafka, free_port()), **override}
    ran = hub_cli(["run", "--no-local-kafka"], env, timeout=120)
    assert ran.returncode == 1, ran.stderr[-2000:]
    lines = [line for line in ran.stderr.splitlines() if not line.startswith("DEVELOPMENT IDENTITY PROVIDER")]
    assert len(lines) == 1 and lines[0].startswith(says), ran.stderr[-2000:]
