"""Delivery to each organisation's own system, over real sockets: an NHS provider's FHIR endpoint, a
provider that searches instead, schools' signed webhooks, social care's inbox, the adult system;
and recipients that are down holding up no one but themselves."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from datetime import date
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub.wiring import HubRuntime
from tests.helpers import eventually
from tests.integration.ehc_world import (
    CSC,
    LA,
    NHS,
    OTHER_SCHOOL,
    SCHOOL,
    SCHOOL_SECRET,
    World,
    decision_body,
    ehc_world,
    request_body,
)
from tests.integration.test_transitions import REFERRAL_DAY, record_assessment, someone
from tests.servers import AgencyEndpoint, kind_of, serving

pytestmark = pytest.mark.kafka
RJ1 = {"agency": "nhs", "code": "RJ1"}
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PANEL = {
    "la_code": LA,
    "panel_date": "2026-04-20",
    "outcome": "issue-plan",
    "health_summary": "speech and language therapy",
    "social_care_summary": "short breaks",
    "education_summary": "1:1 support",
}
PLAN = {
    "la_code": LA,
    "kind": "issued",
    "event_date": "2026-05-18",
    "sections": {"b": "text-of-b", "c": "text-of-c", "d": "text-of-d", "f": "text-of-f", "g": "text-of-g"},
}


async def _journey(world: World, case_id: str, advisers: list[dict[str, Any]], n: int) -> None:
    """Request, decision, panel outcome and plan for one case."""
    await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body(case_id, n)))["id"])
    world.set_today(date(2026, 2, 9))
    decision = decision_body(case_id, advisers=advisers)
    await world.wait_applied((await world.post("/api/v1/assessment-decisions", decision))["id"])
    await world.wait_applied((await world.post("/api/v1/panel-outcomes", {"case_id": case_id, **PANEL}))["id"])
    await world.wait_applied((await world.post("/api/v1/plans", {"case_id": case_id, **PLAN}))["id"])


def _attachment(communication: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.b64decode(communication["payload"][1]["contentAttachment"]["data"]))
    return data


async def test_one_journey_reaches_each_organisations_own_system_with_only_what_it_may_see(
    kafka: str, sqlite_url: str
) -> None:
    provider = AgencyEndpoint()
    async with (
        serving(provider.app) as provider_url,
        ehc_world(kafka, sqlite_url, fhir_endpoints={"RBS": f"{provider_url}/fhir"}, pulling=[CSC["code"]]) as world,
    ):
        await _journey(world, "D-1", [SCHOOL, NHS, CSC], 41)

        # The NHS provider with an endpoint: FHIR messages to $process-message.
        kinds = ("ehc-assessment-decision", "ehc-health-advice-request", "ehc-panel-outcome", "ehc-plan")

        async def provider_has_all() -> bool:
            return all(provider.of_kind(k) for k in kinds)

        await eventually(provider_has_all)
        assert [kind_of(b) for b in provider.received] == list(kinds), "in the order the hub sent them"
        [outcome] = provider.of_kind("ehc-panel-outcome")
        communication = outcome["entry"][1]["resource"]
        assert communication["resourceType"] == "Communication"
        assert communication["recipient"][0]["identifier"]["value"] == NHS["code"]
        seen = _attachment(communication)
        assert seen["health_summary"] == PANEL["health_summary"]
        assert "social_care_summary" not in seen and "education_summary" not in seen
        [plan] = provider.of_kind("ehc-plan")
        composition = plan["entry"][1]["resource"]
        assert composition["resourceType"] == "Composition"
        assert [s["title"][0] for s in composition["section"]] == ["C", "G"]
        shown = json.dumps(plan)
        assert "text-of-c" in shown and "text-of-g" in shown
        assert not any(f"text-of-{s}" in shown for s in "bdf")

        # The school: signed CloudEvents, which its own Standard Webhooks library verifies.
        async def school_has_all() -> bool:
            kinds = {kind_of(b) for b in world.school.received}
            return {"panel-outcome-recorded", "plan-recorded"} <= kinds

        await eventually(school_has_all)
        verifier = Webhook(SCHOOL_SECRET)
        for raw, headers in zip(world.school.raw, world.school.headers, strict=True):
            assert verifier.verify(raw, headers)["id"] == headers["webhook-id"]
        with pytest.raises(WebhookVerificationError):
            verifier.verify(world.school.raw[0].replace(b"D-1", b"D-9"), world.school.headers[0])
        [school_outcome] = world.school.of_kind("panel-outcome-recorded")
        assert set(school_outcome["data"]) == {"case_id", "la_code", "panel_date", "outcome", "education_summary"}
        assert world.social_care.received == [], "social care pulls"

        # Children's social care: its inbox, until it acknowledges.
        async with world.as_("csc-202") as csc:

            async def inbox() -> list[dict[str, Any]]:
                answer = await csc.get("/api/v1/inbox")
                assert answer.status_code == 200, answer.text
                items: list[dict[str, Any]] = answer.json()["items"]
                return items

            async def csc_has_all() -> bool:
                kinds = {i["event"]["type"].split(".")[2] for i in await inbox()}
                return {"advice-requested", "panel-outcome-recorded", "plan-recorded"} <= kinds

            await eventually(csc_has_all)
            items = await inbox()
            [csc_outcome] = [i["event"] for i in items if "panel-outcome" in i["event"]["type"]]
            assert "social_care_summary" in csc_outcome["data"] and "health_summary" not in csc_outcome["data"]
            [csc_plan] = [i["event"] for i in items if "plan-recorded" in i["event"]["type"]]
            assert set(csc_plan["data"]["sections"]) == {"d"}
            assert [i["cursor"] for i in items] == sorted(i["cursor"] for i in items)
            first = await csc.get("/api/v1/inbox", params={"limit": 1})
            after = first.json()["next_after"]
            rest = (await csc.get("/api/v1/inbox", params={"after": after})).json()["items"]
            assert [i["id"] for i in rest] == [i["id"] for i in items[1:]], "paged by cursor, nothing skipped"
            acked = await csc.post("/api/v1/inbox/ack", json={"ids": [i["id"] for i in items]})
            assert acked.json() == {"acknowledged": len(items)}
            assert await inbox() == []
            assert len((await csc.get("/api/v1/inbox", params={"include_acknowledged": True})).json()["items"]) == len(
                items
            )
        async with world.as_("school-100002") as other:
            assert (await other.get("/api/v1/inbox")).json()["items"] == [], "no one reads another's inbox"
            refused = await other.post("/api/v1/inbox/ack", json={"ids": [items[0]["id"]]})
            assert refused.json() == {"acknowledged": 0}

        trace = (await world.client.get("/ops/cases/D-1/trace")).json()
        by_recipient = {(d["recipient"], d["event_type"]): d for d in trace["dispatches"]}
        assert by_recipient[("nhs:RBS", "panel-outcome-recorded")]["status"] == "delivered"
        assert by_recipient[("nhs:RBS", "panel-outcome-recorded")]["answer"] == 200
        assert by_recipient[("childrens-social-care:202-CSC", "plan-recorded")]["channel"] == "inbox"
        backlog = {r["recipient"]: r for r in (await world.client.get("/ops/deliveries")).json()}
        for recipient in ("nhs:RBS", "school:100001", "childrens-social-care:202-CSC"):
            assert backlog[recipient]["pending"] == 0, backlog[recipient]
        assert backlog["health-commissioner:QMJ"]["channel"] == "fhir-inbox", "the ICB searches for its notice"


async def test_a_provider_without_an_endpoint_finds_its_records_by_fhir_search(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        await _journey(world, "D-2", [RJ1], 42)
        async with world.as_("nhs-rj1") as rj1:

            async def found() -> dict[str, Any]:
                answer = await rj1.get("/fhir/Communication", params={"recipient": f"{ODS}|RJ1"})
                assert answer.status_code == 200, answer.text
                bundle: dict[str, Any] = answer.json()
                return bundle

            async def all_three() -> bool:
                return len((await found())["entry"]) == 3

            await eventually(all_three)
            bundle = await found()
            assert bundle["type"] == "searchset"
            kinds = [e["resource"]["category"][0]["coding"][0]["code"] for e in bundle["entry"]]
            assert kinds == ["ehc-assessment-decision", "ehc-panel-outcome", "ehc-plan"]
            plan = _attachment(bundle["entry"][2]["resource"])
            assert set(plan["sections"]) == {"c", "g"}
            page = (await rj1.get("/fhir/Communication", params={"_count": 1})).json()
            [following] = [link["url"] for link in page["link"] if link["relation"] == "next"]
            second = (await rj1.get(following)).json()
            assert second["entry"][0]["resource"]["id"] == bundle["entry"][1]["resource"]["id"]
        async with world.as_("nhs-rbs") as rbs:
            other = await rbs.get("/fhir/Communication", params={"recipient": "RJ1"})
            assert other.status_code == 403 and other.json()["resourceType"] == "OperationOutcome"
            assert (await rbs.get("/fhir/Communication")).json()["entry"] == []
        backlog = {r["recipient"]: r for r in (await world.client.get("/ops/deliveries")).json()}
        assert backlog["nhs:RJ1"]["pending"] == 0, "a search that returned them delivered them"

        # Its advice, due on 23 March, is late: the provider is told, not only the operators.
        world.set_today(date(2026, 3, 30))
        raised = (await world.runtime.watcher.sweep()).alerts
        owed = sorted(a.kind for a in raised if a.organisation and a.organisation.code == "RJ1")
        assert owed == ["advice-breached", "advice-due-soon"]
        async with world.as_("nhs-rj1") as rj1:

            async def alerts() -> list[dict[str, Any]]:
                bundle = (await rj1.get("/fhir/Communication", params={"recipient": f"{ODS}|RJ1"})).json()
                entries = [e["resource"] for e in bundle["entry"]]
                return [c for c in entries if c["category"][0]["coding"][0]["code"] == "ehc-alert"]

            async def both() -> bool:
                return len(await alerts()) == 2

            await eventually(both)
            by_kind = {_attachment(c)["kind"]: c for c in await alerts()}
            assert by_kind["advice-breached"]["priority"] == "urgent"
            assert by_kind["advice-due-soon"]["priority"] == "routine"
            assert "was due on 2026-03-23 and is late" in by_kind["advice-breached"]["payload"][0]["contentString"]


@pytest.mark.timeout(1200)
async def test_recipients_down_for_ten_minutes_hold_up_no_one_else_and_then_get_everything_once_in_order(
    kafka: str, sqlite_url: str
) -> None:
    """School A answers 503 and the adult system is not listening, for ten minutes; school B's
    deliveries keep arriving within two seconds; then A and the adult system get theirs, once each,
    in the order they were sent."""
    outage = float(os.environ.get("HUB_TEST_RECIPIENT_OUTAGE_SECONDS", "600"))
    retry = {"retry_delays_seconds": [1, 2, 5, 10]}
    async with ehc_world(kafka, sqlite_url, adult_down=True, dispatch=retry) as world:
        world.school.fail_next = 10**9
        yp = someone(109, "2008-12-10", "Kai")
        await record_assessment(world, "S58-9", "s58-childs-needs", yp, "2026-06-01")
        world.set_today(REFERRAL_DAY)
        await world.runtime.watcher.sweep()
        await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body("A-1", 51)))["id"])
        await world.wait_applied(
            (await world.post("/api/v1/assessment-decisions", decision_body("A-1", advisers=[SCHOOL])))["id"]
        )

        started = time.monotonic()
        latencies = []
        n = 0
        while time.monotonic() - started < outage:
            n += 1
            body = {**request_body(f"B-{n}", 100 + n % 800), "school": OTHER_SCHOOL}
            sent = time.monotonic()
            await world.post("/api/v1/assessment-requests", body)

            async def b_has_it(case_id: str = f"B-{n}") -> bool:
                return any(r["data"]["case_id"] == case_id for r in world.other_school.received)

            await eventually(b_has_it, timeout=30, interval=0.02)
            latencies.append(time.monotonic() - sent)
            await asyncio.sleep(min(20.0, max(0.0, outage - (time.monotonic() - started))))
        assert max(latencies) < 2.0, latencies
        assert world.school.received == [] and world.adult.received == []
        backlog = {r["recipient"]: r for r in (await world.client.get("/ops/deliveries")).json()}
        assert backlog["school:100001"]["pending"] == 3 and backlog["school:100001"]["failing_since"]
        assert backlog["adult-social-care:202"]["pending"] == 1

        world.school.fail_next = 0
        async with serving(world.adult.app, world.adult_port):

            async def both_back() -> bool:
                return len(world.school.received) >= 3 and len(world.adult.received) >= 1

            await eventually(both_back, timeout=60)
            await asyncio.sleep(2)
        assert [kind_of(b) for b in world.school.received] == [
            "assessment-requested",
            "assessment-decision-made",
            "advice-requested",
        ], "once each, in order"
        keys = [h["idempotency-key"] for h in world.school.headers]
        assert len(set(keys)) == len(keys) == 3
        assert len(world.adult.received) == 1, "delivered once, not once per retry"
        assert world.adult.received[0]["offered_assessments"][0]["assessment_id"] == "S58-9"


async def test_routing_and_dispatch_scale_as_separate_instances(kafka: str, sqlite_url: str) -> None:
    """`hub run --roles route` routes and serves but delivers nothing; a `--roles dispatch` instance
    on the same topics and store delivers what the first routed."""
    async with ehc_world(kafka, sqlite_url, roles=["route"]) as world:
        await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body("R-1", 61)))["id"])
        await asyncio.sleep(2)
        assert world.school.received == [], "a routing-only instance dispatches nothing"
        dispatching = HubRuntime(world.runtime.settings.model_copy(update={"roles": ["dispatch"]}), kafka)
        await dispatching.start()
        try:

            async def delivered() -> bool:
                return bool(world.school.of_kind("assessment-requested"))

            await eventually(delivered)
            assert dispatching.core.processed == 0, "a dispatch-only instance routes nothing"
        finally:
            await dispatching.stop()
