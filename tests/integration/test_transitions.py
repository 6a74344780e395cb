"""Transition to adult social care at 18: assessments reused, not repeated. Real broker, real sockets."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from tests.helpers import eventually, nhs_number
from tests.integration.ehc_world import LA, World, ehc_world

pytestmark = pytest.mark.kafka

REFERRAL_DAY = date(2026, 9, 15)  # 17 years 9 months and a few days for those born on 10 Dec 2008
SOCIAL_WORKER = {
    "name": "J Smith",
    "role": "Social worker",
    "organisation": {"agency": "childrens-social-care", "code": LA},
}


def someone(n: int, dob: str, given: str) -> dict[str, Any]:
    return {
        "nhs_number": nhs_number(n),
        "la_person_id": f"P{n}",
        "la_code": LA,
        "given_name": given,
        "family_name": "Test",
        "date_of_birth": dob,
    }


async def record_assessment(
    world: World,
    assessment_id: str,
    kind: str,
    assessed: dict,
    completed: str,
    cared_for: list[dict] | None = None,
    status: str = "completed",
) -> None:
    body = {
        "assessment_id": assessment_id,
        "la_code": LA,
        "assessment_type": kind,
        "assessed_person": assessed,
        "cared_for": cared_for or [],
        "status": status,
        "completed_date": completed,
        "assessor": SOCIAL_WORKER,
        "eligibility_indication": "likely-eligible",
    }
    await world.wait_applied((await world.post("/api/v1/social-care/assessments", body))["id"])


async def give_ehc_plan(world: World, case_id: str, yp: dict) -> None:
    request = {
        "case_id": case_id,
        "la_code": LA,
        "requested_by": "young-person",
        "received_date": "2025-01-06",
        "year_group": 12,
        "person": yp,
    }
    await world.wait_applied((await world.post("/api/v1/assessment-requests", request))["id"])
    steps = [
        (
            "/api/v1/assessment-decisions",
            {"case_id": case_id, "la_code": LA, "decision": "assess", "decision_date": "2025-02-10"},
        ),
        (
            "/api/v1/panel-outcomes",
            {"case_id": case_id, "la_code": LA, "panel_date": "2025-04-14", "outcome": "issue-plan"},
        ),
        (
            "/api/v1/plans",
            {
                "case_id": case_id,
                "la_code": LA,
                "kind": "issued",
                "event_date": "2025-05-19",
                "sections": {
                    "a": "views",
                    "b": "needs",
                    "c": "health needs",
                    "d": "social care needs",
                    "e": "outcomes",
                    "f": "provision",
                    "h1": "CSDPA provision",
                    "h2": "other care",
                    "i": "college",
                    "pfa_outcomes": ["live independently"],
                },
            },
        ),
    ]
    for path, body in steps:
        await world.wait_applied((await world.post(path, body))["id"])


async def determine_need(world: World, determination_id: str, yp: dict) -> None:
    """Children's services judge that the young person is likely to need care after 18 (s58(1))."""
    determination = {
        "determination_id": determination_id,
        "la_code": LA,
        "person": yp,
        "determined_date": "2026-09-01",
        "likely_need": True,
        "significant_benefit": True,
        "consent": "given",
        "decided_by": "J Smith",
        "childrens_services": ["s17-children-act-1989"],
    }
    await world.wait_applied((await world.post("/api/v1/social-care/transition-needs", determination))["id"])


async def referrals_received(world: World, count: int) -> list[dict[str, Any]]:
    world.set_today(REFERRAL_DAY)
    await world.runtime.watcher.sweep()

    async def arrived() -> bool:
        return len([m for m in world.adult.received if m["message_type"] == "transition-referral"]) >= count

    await eventually(arrived, timeout=60)
    return [m for m in world.adult.received if m["message_type"] == "transition-referral"]


async def decide(
    world: World, referral: dict, assessment_id: str, accepted: bool, expect: int = 202, key: str | None = None
) -> dict:
    body = {
        "assessment_id": assessment_id,
        "accepted": accepted,
        "decided_by": "Adult team manager",
        "reason": "current and unchanged" if accepted else "out of date for adult planning",
        "decision_date": "2026-12-14",  # after the 18th birthday (10 December): ss59, 61, 64
    }
    path = f"/api/v1/adult-social-care/referrals/{referral['referral_id']}/decisions"
    return await world.post(path, body, expect, **{"Idempotency-Key": key or assessment_id})


async def new_assessment_requests(world: World) -> list[dict[str, Any]]:
    await asyncio.sleep(1.0)  # anything still in flight would arrive within this
    return [m for m in world.adult.received if m["message_type"] == "care-assessment-request"]


async def test_recent_unchanged_carer_assessment_is_reused_and_no_new_one_requested(kafka: str, store_url: str) -> None:
    async with ehc_world(kafka, store_url) as world:
        yp = someone(101, "2008-12-10", "Maya")
        carer = someone(201, "1980-02-02", "Grace")
        await give_ehc_plan(world, "T-1", yp)
        await record_assessment(world, "S60-1", "s60-childs-carers", carer, "2026-04-15", cared_for=[yp])
        world.set_today(REFERRAL_DAY)
        considered = [
            a for a in (await world.runtime.watcher.sweep()).alerts if a.kind == "transition-consideration-due"
        ]
        assert [a.organisation.agency for a in considered if a.organisation] == ["childrens-social-care"]
        await asyncio.sleep(1.0)
        assert not world.adult.received, "an EHC plan alone is no reason in law to refer (s58(1))"
        await determine_need(world, "D-1", yp)
        [referral] = await referrals_received(world, 1)

        assert referral["route_of_access"] == "Planned Entry (Transition)"
        assert referral["young_person"]["nhs_number"] == yp["nhs_number"]
        assert referral["young_person"]["client_type"] == "Service User"
        assert referral["reasons"] == ["ehc-plan", "likely-need-determined"]
        assert referral["eighteenth_birthday"] == "2026-12-10"
        assert set(referral["ehc_plan_sections"]) == {"d", "e", "h1", "h2", "pfa_outcomes"}
        [offer] = referral["offered_assessments"]
        assert (offer["assessment_id"], offer["care_act_section"], offer["recommendation"]) == ("S60-1", "s60", "reuse")
        assert offer["completed_date"] == "2026-04-15" and offer["changes_since"] == []
        assert offer["assessed_person"]["client_type"] == "Carer"
        assert offer["assessed_person"]["linked_person_id"] == yp["nhs_number"]

        ack = {"adult_case_id": "ASC-77", "acknowledged_date": "2026-09-16", "support_in_place_date": "2026-12-01"}
        acked = await world.post(f"/api/v1/adult-social-care/referrals/{referral['referral_id']}/acknowledgement", ack)
        await world.wait_applied(acked["id"])
        await world.wait_applied((await decide(world, referral, "S60-1", True))["id"])
        assert await new_assessment_requests(world) == []
        stored = (await world.client.get(f"/ops/referrals/{referral['referral_id']}")).json()
        assert stored["adult_case_id"] == "ASC-77"
        assert stored["decisions"]["S60-1"]["accepted"] == 1
        measures = (await world.client.get("/ops/transitions/measures")).json()[LA]
        assert (measures["reused"], measures["redone"], measures["median_days_to_adult_decision"]) == (1, 0, 90)

        never = await decide(world, referral, "NOT-OFFERED", True, expect=422)
        assert (never["field"], never["rule"]) == ("data.assessment_id", "assessment-offered")
        changed_mind = await decide(world, referral, "S60-1", False, expect=409, key="another")
        assert changed_mind["rule"] == "single-decision"
        world.set_today(date(2026, 12, 11))
        assert not [a for a in (await world.runtime.watcher.sweep()).alerts if a.kind.startswith("s66")], (
            "support in place"
        )
        assert len(world.adult.distinct()) == 1, "the referral, once"


async def test_old_or_changed_carer_assessment_is_flagged_and_rejection_requests_exactly_one(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        old_yp, changed_yp = someone(102, "2008-12-10", "Noah"), someone(103, "2008-11-20", "Isla")
        old_carer, changed_carer = someone(202, "1975-05-05", "Ruth"), someone(203, "1979-07-07", "Tom")
        await record_assessment(world, "S58-2", "s58-childs-needs", old_yp, "2026-03-01")
        await record_assessment(world, "S58-3", "s58-childs-needs", changed_yp, "2026-03-01")
        await record_assessment(world, "S60-2", "s60-childs-carers", old_carer, "2024-03-01", cared_for=[old_yp])
        await record_assessment(
            world, "S60-3", "s60-childs-carers", changed_carer, "2026-05-01", cared_for=[changed_yp]
        )
        change = {
            "change_id": "CH-1",
            "la_code": LA,
            "person": changed_carer,
            "change_date": "2026-07-01",
            "description": "carer started full-time work",
            "recorded_by": "J Smith",
        }
        await world.wait_applied((await world.post("/api/v1/social-care/changes-of-circumstances", change))["id"])
        referrals = {r["young_person"]["nhs_number"]: r for r in await referrals_received(world, 2)}
        old_ref, changed_ref = referrals[old_yp["nhs_number"]], referrals[changed_yp["nhs_number"]]
        old_offer = next(o for o in old_ref["offered_assessments"] if o["assessment_id"] == "S60-2")
        assert old_offer["recommendation"] == "reassess" and "30 months" in old_offer["recommendation_reason"]
        changed_offer = next(o for o in changed_ref["offered_assessments"] if o["assessment_id"] == "S60-3")
        assert changed_offer["recommendation"] == "review"
        assert changed_offer["changes_since"] == ["2026-07-01: carer started full-time work"]
        s58 = next(o for o in old_ref["offered_assessments"] if o["assessment_id"] == "S58-2")
        assert s58["recommendation"] == "reuse"

        for referral, assessment_id in ((old_ref, "S60-2"), (changed_ref, "S60-3")):
            await world.wait_applied((await decide(world, referral, assessment_id, False))["id"])
            again = await decide(world, referral, assessment_id, False, expect=200)
            assert again["outcome"] == "unchanged"

        async def two_requests() -> bool:
            return len([m for m in world.adult.received if m["message_type"] == "care-assessment-request"]) >= 2

        await eventually(two_requests)
        requests = await new_assessment_requests(world)
        assert sorted(r["replaces_assessment_id"] for r in requests) == ["S60-2", "S60-3"]
        assert {r["care_act_section"] for r in requests} == {"s10"}
        assert {r["person"]["nhs_number"] for r in requests} == {old_carer["nhs_number"], changed_carer["nhs_number"]}
        assert all(r["person"]["client_type"] == "Carer" for r in requests)
        linked = {r["person"]["nhs_number"]: r["person"]["linked_person_id"] for r in requests}
        assert linked == {
            old_carer["nhs_number"]: old_yp["nhs_number"],
            changed_carer["nhs_number"]: changed_yp["nhs_number"],
        }
        measures = (await world.client.get("/ops/transitions/measures")).json()[LA]
        assert (measures["reused"], measures["redone"]) == (0, 2)


async def test_a_carer_of_two_young_people_is_offered_in_both_referrals(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        first, second = someone(104, "2008-12-10", "Ada"), someone(105, "2008-10-01", "Ben")
        carer = someone(204, "1970-01-01", "Mo")
        await record_assessment(world, "S58-4", "s58-childs-needs", first, "2026-06-01")
        await record_assessment(world, "S58-5", "s58-childs-needs", second, "2026-06-01")
        await record_assessment(world, "S60-4", "s60-childs-carers", carer, "2026-06-01", cared_for=[first, second])
        referrals = await referrals_received(world, 2)
        assert len({r["referral_id"] for r in referrals}) == 2
        for referral in referrals:
            carers = [o for o in referral["offered_assessments"] if o["care_act_section"] == "s60"]
            assert [(o["assessment_id"], o["recommendation"]) for o in carers] == [("S60-4", "reuse")]
            assert carers[0]["assessed_person"]["linked_person_id"] == referral["young_person"]["nhs_number"]


async def test_no_carer_means_no_carer_section_and_a_young_carer_is_offered_their_own(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        alone, young_carer = someone(106, "2008-12-10", "Eli"), someone(107, "2008-12-01", "Zara")
        parent = someone(207, "1972-03-03", "Sam")
        refuser = someone(208, "1969-09-09", "Lee")
        await record_assessment(world, "S58-6", "s58-childs-needs", alone, "2026-06-01")
        await record_assessment(
            world, "S60-R", "s60-childs-carers", refuser, "2026-06-01", cared_for=[alone], status="refused"
        )
        await record_assessment(world, "S63-7", "s63-young-carers", young_carer, "2026-05-01", cared_for=[parent])
        referrals = {r["young_person"]["nhs_number"]: r for r in await referrals_received(world, 2)}
        alone_offers = referrals[alone["nhs_number"]]["offered_assessments"]
        assert [(o["assessment_id"], o["assessed_person"]["client_type"]) for o in alone_offers] == [
            ("S58-6", "Service User")
        ], "no carer section; a carer who refused is not pressed again"
        [own] = referrals[young_carer["nhs_number"]]["offered_assessments"]
        assert (own["assessment_id"], own["care_act_section"]) == ("S63-7", "s63")
        assert own["assessed_person"]["nhs_number"] == young_carer["nhs_number"]
        assert own["assessed_person"]["client_type"] == "Carer"
        assert await new_assessment_requests(world) == []


async def test_a_carer_assessment_recorded_after_the_referral_is_offered_in_an_update(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        yp, carer = someone(104, "2008-12-10", "Ezra"), someone(204, "1981-03-03", "Dana")
        await give_ehc_plan(world, "T-9", yp)
        await record_assessment(world, "S58-9", "s58-childs-needs", yp, "2026-06-01")
        [referral] = await referrals_received(world, 1)
        assert [o["assessment_id"] for o in referral["offered_assessments"]] == ["S58-9"]
        ack = {"adult_case_id": "ASC-99", "acknowledged_date": "2026-09-16"}
        acked = await world.post(f"/api/v1/adult-social-care/referrals/{referral['referral_id']}/acknowledgement", ack)
        await world.wait_applied(acked["id"])

        await record_assessment(world, "S60-9", "s60-childs-carers", carer, "2026-09-20", cared_for=[yp])
        world.set_today(date(2026, 9, 21))
        await world.runtime.watcher.sweep()

        def updates() -> list[dict[str, Any]]:
            return [m for m in world.adult.received if m["message_type"] == "transition-referral-update"]

        async def updated() -> bool:
            return bool(updates())

        await eventually(updated)
        [update] = updates()
        assert update["referral_id"] == referral["referral_id"]
        [offer] = update["offered_assessments"]
        assert (offer["assessment_id"], offer["care_act_section"], offer["recommendation"]) == ("S60-9", "s60", "reuse")
        assert offer["assessed_person"]["linked_person_id"] == yp["nhs_number"]

        async def recorded() -> bool:
            stored = (await world.client.get(f"/ops/referrals/{referral['referral_id']}")).json()
            return "S60-9" in {o["assessment_id"] for o in stored["offered"]}

        await eventually(recorded)
        await world.wait_applied((await decide(world, referral, "S60-9", True))["id"])
        await world.runtime.watcher.sweep()
        await asyncio.sleep(1.0)
        assert len(updates()) == 1, "offered once"


async def test_a_sweep_reading_a_case_at_a_time_asks_about_each_young_person_once_and_refers_with_the_plan(
    kafka: str, sqlite_url: str
) -> None:
    """The planner reads open cases a page at a time; with pages of one case, what it asks and whom
    it refers are as with every case at once."""
    async with ehc_world(kafka, sqlite_url) as world:
        world.runtime.watcher.page_size = 1
        maya, ben = someone(111, "2008-12-10", "Maya"), someone(112, "2008-11-01", "Ben")
        await give_ehc_plan(world, "PG-1", maya)
        await give_ehc_plan(world, "PG-2", ben)
        world.set_today(REFERRAL_DAY)
        sweep = await world.runtime.watcher.sweep()
        asked = sorted(a.case_id for a in sweep.alerts if a.kind == "transition-consideration-due")
        assert asked == ["PG-1", "PG-2"]
        again = await world.runtime.watcher.sweep()
        assert not [a for a in again.alerts if a.kind == "transition-consideration-due"], "asked once"
        await determine_need(world, "D-PG", maya)
        [referral] = await referrals_received(world, 1)
        assert referral["young_person"]["nhs_number"] == maya["nhs_number"]
        assert referral["reasons"] == ["ehc-plan", "likely-need-determined"]
        assert set(referral["ehc_plan_sections"]) == {"d", "e", "h1", "h2", "pfa_outcomes"}
