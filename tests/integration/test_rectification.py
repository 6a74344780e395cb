"""Rectification against the real broker (UK GDPR Art. 16 and 19): a correction of a young
person's or a carer's details reaches the store and exactly the organisations that were sent a
wrong value, each with no more of the person than it had."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from hub.store.tables import cases, deliveries, referrals
from hub.topics import outbound_topic
from tests.helpers import eventually, topic_records
from tests.integration.ehc_world import LA, World, ehc_world
from tests.integration.test_transitions import (
    determine_need,
    give_ehc_plan,
    record_assessment,
    referrals_received,
    someone,
)

pytestmark = pytest.mark.kafka
CORRECTED = "uk.ehc-hub.person-details-corrected.v1"


async def correct(
    world: World, correction_id: str, person: dict[str, Any], fields: list[str], expect: int = 202
) -> Any:
    body = {
        "type": "person-details-corrected",
        "data": {
            "correction_id": correction_id,
            "la_code": LA,
            "person": person,
            "corrected_fields": fields,
            "corrected_date": "2026-10-01",
            "reason": "registered under the wrong name at first contact",
        },
    }
    answer = await world.post("/api/v1/events", body, expect, by="la-202")
    if expect == 202:
        await world.wait_applied(answer["id"])
    return answer


async def notices(world: World) -> dict[str, dict[str, Any]]:
    """Each correction notice on the outbound topics, opened as its recipient gets it."""
    privacy = world.runtime.privacy
    assert privacy is not None
    found = {}
    for agency in ("adult-social-care", "health-commissioner", "childrens-social-care", "nhs", "school"):
        for r in await topic_records(world.kafka, world.runtime.names.physical(outbound_topic(agency))):
            doc = json.loads(r.value or b"")
            if doc["type"] == CORRECTED:
                [(opened, _)] = await privacy.open([doc])
                found[f"{agency}:{doc['data']['correction_id']}"] = opened["data"]
    return found


async def test_a_correction_reaches_the_store_and_exactly_who_was_sent_the_wrong_value(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:  # personal data sealed, as by default
        yp, carer = someone(171, "2008-12-10", "Tomasz"), someone(271, "1981-03-03", "Ugne")
        await give_ehc_plan(world, "RC-1", yp)
        await record_assessment(world, "S60-RC", "s60-childs-carers", carer, "2026-04-15", cared_for=[yp])
        await determine_need(world, "D-RC", yp)
        await referrals_received(world, 1)

        await correct(
            world,
            "FIX-YP",
            {**yp, "given_name": "Tomas", "date_of_birth": "2008-12-11"},
            ["given_name", "date_of_birth"],
        )
        await correct(
            world, "FIX-CARER", {"nhs_number": carer["nhs_number"], "family_name": "Testaite"}, ["family_name"]
        )

        async def both_sent() -> bool:
            return {"adult-social-care:FIX-YP", "adult-social-care:FIX-CARER"} <= set(await notices(world))

        await eventually(both_sent)
        sent = await notices(world)
        store = world.runtime.store.db
        fixes = await store.rows(select(deliveries).where(deliveries.c.case_id.in_(["FIX-YP", "FIX-CARER"])))
        by_fix = {(r["case_id"], r["recipient"]) for r in fixes}
        assert ("FIX-YP", "health-commissioner") not in by_fix, "it was sent the NHS number only, which was right"
        assert ("FIX-YP", "childrens-social-care") not in by_fix, "it was sent the LA person id only"
        assert {r for r in by_fix if r[0] == "FIX-CARER"} == {("FIX-CARER", "adult-social-care")}, "only the referral"
        assert all("UK GDPR Art. 19" in r["lawful_basis"] for r in fixes)

        to_adults = sent["adult-social-care:FIX-YP"]
        assert to_adults["person"]["given_name"] == "Tomas" and to_adults["person"]["date_of_birth"] == "2008-12-11"
        assert "reason" not in to_adults and "corrected_fields" not in to_adults
        carer_notice = sent["adult-social-care:FIX-CARER"]["person"]
        assert carer_notice["family_name"] == "Testaite" and "given_name" not in carer_notice

        [case] = await store.rows(select(cases.c.person).where(cases.c.case_id == "RC-1"))
        assert case["person"]["given_name"] == "Tomas" and case["person"]["date_of_birth"] == "2008-12-11"
        [referral] = await store.rows(select(referrals.c.offered))
        assert referral["offered"][0]["assessed_person"]["family_name"] == "Testaite"
        assert referral["offered"][0]["cared_for"]["given_name"] == "Tomas"

        unknown = {"nhs_number": "9434765919", "given_name": "Nobody"}
        refused = await correct(world, "FIX-NONE", unknown, ["given_name"], expect=404)
        assert refused["rule"] == "known-person"
