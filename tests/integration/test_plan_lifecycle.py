"""The journey past the final plan, over real sockets: one annual review that amends the plan,
with each agency's own system receiving its part (the provider's FHIR endpoint, the school's
signed webhook, social care's inbox), and a move to a new school that brings the next school in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.ops.rebuild import rebuild
from hub.store import Store
from hub.wiring import HubRuntime
from tests.helpers import eventually
from tests.integration.ehc_world import CSC, LA, NHS, OTHER_SCHOOL, SCHOOL, World, ehc_world
from tests.integration.test_dispatch import _journey
from tests.servers import AgencyEndpoint, kind_of, serving

pytestmark = pytest.mark.kafka
AMENDED = {
    "case_id": "L-1",
    "la_code": LA,
    "kind": "amended",
    "event_date": "2026-11-13",
    "sections": {"b": "new-b", "c": "new-c", "d": "new-d", "f": "new-f", "g": "new-g", "i": "Brookside Academy"},
}


async def _step(world: World, step: str, day: str, **extra: Any) -> None:
    review = {"review_id": "R-L1", "case_id": "L-1", "la_code": LA, "step": step, "step_date": day, **extra}
    await world.wait_applied((await world.post("/api/v1/reviews", review))["id"])


async def test_an_annual_review_that_amends_the_plan_reaches_every_agency_with_its_part(
    kafka: str, sqlite_url: str
) -> None:
    provider = AgencyEndpoint()
    async with (
        serving(provider.app) as provider_url,
        ehc_world(kafka, sqlite_url, fhir_endpoints={"RBS": f"{provider_url}/fhir"}, pulling=[CSC["code"]]) as world,
    ):
        runtime = world.runtime
        await _journey(world, "L-1", [SCHOOL, NHS, CSC], 61)
        await _step(
            world,
            "scheduled",
            "2026-09-28",
            meeting_date="2026-10-16",
            invitees=[SCHOOL, NHS, CSC],
            review_type="annual",
        )

        async def asked_twice() -> bool:
            return len(provider.of_kind("ehc-health-advice-request")) == 2

        await eventually(asked_twice)  # once for the assessment, once for the review

        async def school_asked() -> bool:
            requests = world.school.of_kind("advice-requested")
            return any(r["data"].get("review_id") == "R-L1" for r in requests)

        await eventually(school_asked)
        [asked] = [r for r in world.school.of_kind("advice-requested") if r["data"].get("review_id")]
        assert asked["data"]["due_date"] == "2026-10-02", "in time to circulate two weeks before the meeting"

        await _step(world, "advice-circulated", "2026-10-02")
        await _step(world, "held", "2026-10-16", pfa_considered=True)
        await _step(world, "report-sent", "2026-10-23")
        await _step(world, "decision-notified", "2026-10-28", decision="amend")
        refused = await world.post("/api/v1/plans", {**AMENDED, "event_date": "2026-11-05"}, expect=422)
        assert "representations" in json.dumps(refused), "15 days for representations on the amendments"
        await world.wait_applied((await world.post("/api/v1/plans", AMENDED))["id"])

        # The provider: the amended plan's health sections, as a Composition.
        async def provider_has_amended() -> bool:
            return any("new-c" in json.dumps(m) for m in provider.of_kind("ehc-plan"))

        await eventually(provider_has_amended)
        [amended] = [m for m in provider.of_kind("ehc-plan") if "new-c" in json.dumps(m)]
        shown = json.dumps(amended)
        assert "new-g" in shown and not any(f"new-{s}" in shown for s in "bdf")

        # The school: the review's progress and its sections of the amended plan, signed.
        async def school_has_amended() -> bool:
            return any(p["data"].get("kind") == "amended" for p in world.school.of_kind("plan-recorded"))

        await eventually(school_has_amended)
        [school_plan] = [p for p in world.school.of_kind("plan-recorded") if p["data"]["kind"] == "amended"]
        assert set(school_plan["data"]["sections"]) == {"b", "f", "i", "pfa_outcomes"}
        steps = [r["data"]["step"] for r in world.school.of_kind("review-recorded")]
        assert steps == ["scheduled", "advice-circulated", "held", "report-sent", "decision-notified"]
        assert "webhook-signature" in world.school.headers[-1]

        # Children's social care: its section of the amended plan, in its inbox.
        async with world.as_("csc-202") as csc:

            async def csc_amended() -> list[dict[str, Any]]:
                items = (await csc.get("/api/v1/inbox", params={"limit": 500})).json()["items"]
                return [i["event"] for i in items if i["event"]["data"].get("kind") == "amended"]

            await eventually(csc_amended)
            [csc_plan] = await csc_amended()
            assert csc_plan["data"]["sections"] == {"d": "new-d"}

        clocks = {c["kind"]: c for c in (await world.client.get("/ops/cases/L-1/clocks")).json()}
        for kind in ("review-notice", "review-advice-circulation", "review-report", "review-decision", "amended-plan"):
            assert clocks[kind]["state"] == "met", clocks[kind]
        assert clocks["annual-review"]["due"] == "2027-10-16", "twelve months from the meeting"

        # A move to a new school: the next school receives the plan from now on.
        transfer = {
            "transfer_id": "T-L1",
            "case_id": "L-1",
            "la_code": LA,
            "transfer_kind": "post-16-to-post-16",
            "transfer_date": "2027-09-06",
            "next_institution": OTHER_SCHOOL,
        }
        await world.wait_applied((await world.post("/api/v1/phase-transfers", transfer))["id"])
        clocks = {c["clock_id"]: c for c in (await world.client.get("/ops/cases/L-1/clocks")).json()}
        assert clocks["L-1:phase-transfer:T-L1"]["due"] == "2027-04-06", "five months before a post-16 move"
        reviewed = {**AMENDED, "kind": "reviewed", "review_type": "annual", "event_date": "2026-11-20"}
        await world.wait_applied((await world.post("/api/v1/plans", reviewed))["id"])

        async def next_school_has_it() -> bool:
            return any(kind_of(b) == "plan-recorded" for b in world.other_school.received)

        await eventually(next_school_has_it)
        [first] = world.other_school.of_kind("plan-recorded")
        assert set(first["data"]["sections"]) == {"b", "f", "i", "pfa_outcomes"}

        live = await runtime.store.snapshot()
    await _rebuilds_alike(kafka, sqlite_url, runtime, live)


async def test_a_reassessment_an_unopposed_appeal_a_budget_and_a_move_go_in_over_http_and_rebuild_alike(
    kafka: str, store_url: str
) -> None:
    async with ehc_world(kafka, store_url) as world:
        runtime = world.runtime
        await _journey(world, "L-2", [SCHOOL, NHS, CSC], 62)
        case = {"case_id": "L-2", "la_code": LA}

        async def post(path: str, body: dict[str, Any], expect: int = 202) -> dict[str, Any]:
            answer = await world.post(path, {**case, **body}, expect=expect)
            if expect == 202:
                await world.wait_applied(answer["id"])
            return answer

        refused = await post(
            "/api/v1/appeals",
            {"appeal_id": "A-1", "step": "conceded", "step_date": "2026-09-07", "subject": "plan-contents"},
            422,
        )
        assert "appeal-registered" in json.dumps(refused)
        for step, day in (("appeal-registered", "2026-08-03"), ("conceded", "2026-09-07")):
            await post(
                "/api/v1/appeals", {"appeal_id": "A-1", "step": step, "step_date": day, "subject": "plan-contents"}
            )
        await post(
            "/api/v1/reassessments",
            {"reassessment_id": "RA-1", "step": "requested", "step_date": "2026-09-01", "requested_by": "parent"},
        )
        await post(
            "/api/v1/reassessments",
            {
                "reassessment_id": "RA-1",
                "step": "decision-notified",
                "step_date": "2026-09-14",
                "decision": "reassess",
                "advisers": [SCHOOL],
            },
        )
        await post(
            "/api/v1/personal-budgets",
            {"budget_id": "PB-1", "step": "requested", "step_date": "2026-09-15", "requested_at": "reassessment"},
        )

        clocks = {c["clock_id"].split(":", 1)[1]: c for c in (await world.client.get("/ops/cases/L-2/clocks")).json()}
        assert clocks["unopposed-amended-plan:A-1"]["due"] == "2026-10-12", "five weeks from the concession"
        assert clocks["reassessment-decision:RA-1"]["state"] == "met"
        assert clocks["reassessment-plan:RA-1"]["due"] == "2026-12-21", "fourteen weeks from the decision"

        async def school_asked_again() -> bool:
            return len(world.school.of_kind("advice-requested")) == 2

        await eventually(school_asked_again)  # at the assessment, and again for the reassessment
        await post(
            "/api/v1/appeals",
            {
                "appeal_id": "A-1",
                "step": "complied",
                "step_date": "2026-10-09",
                "subject": "plan-contents",
                "complied_with": "amended-plan",
            },
        )
        clocks = {c["clock_id"].split(":", 1)[1]: c for c in (await world.client.get("/ops/cases/L-2/clocks")).json()}
        assert clocks["unopposed-amended-plan:A-1"]["state"] == "met"
        figure = (await world.client.get("/ops/timeliness", params={"la_code": LA})).json()
        assert figure["excluded_mediation_or_tribunal"] == 1, (
            "an appeal about the plan's contents is at the assessment stage"
        )

        # The family moves to Lambeth: once the plan is transferred, Lambeth owns the case.
        move = {"transfer_id": "M-1", "new_la_code": "208", "move_date": "2026-10-19"}
        await post("/api/v1/la-transfers", {**move, "step": "aware", "step_date": "2026-10-01"})
        await post("/api/v1/la-transfers", {**move, "step": "transferred", "step_date": "2026-10-19"})
        review = {"review_id": "R-L2", "case_id": "L-2", "la_code": "208", "step": "held", "step_date": "2026-11-02"}
        refused = await world.post("/api/v1/reviews", {**review, "la_code": LA}, expect=403)
        assert "belongs to LA 208" in json.dumps(refused)
        notified = {**case, "la_code": "208", "transfer_id": "M-1", "new_la_code": "208", "step": "new-la-notified"}
        answer = await world.post("/api/v1/la-transfers", {**notified, "step_date": "2026-11-20"}, by="la-208")
        await world.wait_applied(answer["id"])
        clocks = {c["clock_id"].split(":", 1)[1]: c for c in (await world.client.get("/ops/cases/L-2/clocks")).json()}
        assert clocks["la-transfer:M-1"]["state"] == "met" and clocks["new-la-notice:M-1"]["state"] == "met"
        assert clocks["new-la-notice:M-1"]["organisation"] == "208"

        async def school_told() -> bool:
            return any(b["data"].get("new_la_code") == "208" for b in world.school.of_kind("la-transfer-recorded"))

        await eventually(school_told)
        live = await runtime.store.snapshot()
        assert live["la_transfers"] and live["appeals"] and live["personal_budgets"] and live["reviews"]

    await _rebuilds_alike(kafka, store_url, runtime, live)


async def _rebuilds_alike(kafka: str, store_url: str, runtime: HubRuntime, live: dict[str, Any]) -> None:
    """Replaying the topics gives the same store: an amended plan on the plans topic still completes
    the review whose steps are on the reviews topic, because the replay keeps the order of writing."""
    rebuilt = Store(store_url + ("-rebuilt" if store_url.startswith("sqlite") else ""))
    try:
        directory = runtime.core.router.directory
        settings = runtime.settings
        await rebuild(
            rebuilt, kafka, runtime.names, settings.source_uri, settings.rules, directory, privacy=runtime.privacy
        )
        assert await rebuilt.snapshot() == live
    finally:
        await rebuilt.close()
