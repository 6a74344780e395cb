"""Issue flows end to end: one young person's journey across every agency, over real sockets."""

from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import eventually, nhs_number
from tests.integration.ehc_world import (
    CSC,
    EP,
    LA,
    NHS,
    SCHOOL,
    World,
    advice_body,
    decision_body,
    ehc_world,
    request_body,
)


def notice_body(case_id: str, kind: str, sent: str, served: str | None = None) -> dict[str, object]:
    return {
        "notice_id": f"{case_id}-{kind}-{sent}",
        "case_id": case_id,
        "la_code": LA,
        "notice": kind,
        "sent_date": sent,
        "served_date": served,
        "recipients": ["parent"],
        "appeal_information": True,
        "mediation_information": True,
    }


pytestmark = pytest.mark.kafka


async def _open_and_decide(world: World, case_id: str, **decision: object) -> None:
    opened = await world.post("/api/v1/assessment-requests", request_body(case_id))
    await world.wait_applied(opened["id"])
    world.set_today(date(2026, 2, 9))
    decided = await world.post("/api/v1/assessment-decisions", {**decision_body(case_id), **decision})
    await world.wait_applied(decided["id"])


async def _fetch(world: World, recipient: str) -> list[dict]:
    response = await world.client.get("/api/v1/advice-requests", params={"recipient": recipient})
    assert response.status_code == 200
    return response.json()


async def test_one_journey_from_request_to_final_plan_across_every_agency(kafka: str, store_url: str) -> None:
    async with ehc_world(kafka, store_url) as world:
        await _open_and_decide(world, "J-1")
        await world.wait_applied(
            (await world.post("/api/v1/notices", notice_body("J-1", "decision-to-assess", "2026-02-10")))["id"]
        )

        async def webhooks_delivered() -> bool:
            return len(world.school.of_kind("advice-requested")) == 1 and bool(
                world.social_care.of_kind("advice-requested")
            )

        await eventually(webhooks_delivered)
        [school_request] = [r["data"] for r in world.school.of_kind("advice-requested")]
        assert school_request["advice_kind"] == "education"
        csc_request = world.social_care.of_kind("advice-requested")[0]["data"]
        assert csc_request["advice_kind"] == "social-care"

        [ep_request] = await _fetch(world, EP["code"])
        assert ep_request["advice_kind"] == "educational-psychology"
        assert ep_request["received_date"] == "2026-02-09"
        [parent_request] = await _fetch(world, LA)
        assert parent_request["advice_kind"] == "parent-or-young-person"
        world.set_today(date(2026, 2, 11))
        [nhs_request] = await _fetch(world, NHS["code"])
        assert nhs_request["received_date"] == "2026-02-11"
        assert nhs_request["person"]["nhs_number"] == request_body("J-1")["person"]["nhs_number"]

        async def receipts_recorded() -> bool:
            clocks = await world.clocks("J-1")
            return clocks["advice:health"]["start"] == "2026-02-11" and all(
                c["received"] for k, c in clocks.items() if k.startswith("advice:")
            )

        await eventually(receipts_recorded)

        submissions = [
            ("/api/v1/advice", advice_body("J-1", school_request, "2026-03-02", SCHOOL)),
            ("/api/v1/advice", advice_body("J-1", ep_request, "2026-03-09", EP)),
            ("/api/v1/advice", advice_body("J-1", parent_request, "2026-02-20", {"agency": "family", "code": LA})),
            ("/api/v1/social-care/advice", advice_body("J-1", csc_request, "2026-03-16", CSC)),
            (
                "/api/v1/advice",
                advice_body(
                    "J-1",
                    nhs_request,
                    "2026-03-20",
                    NHS,
                    signed_off_by={"name": "Dr Rao", "role": "Designated Medical Officer", "organisation": NHS},
                    signed_off_date="2026-03-20",
                ),
            ),
        ]
        for path, body in submissions:
            await world.wait_applied((await world.post(path, body, **{"Idempotency-Key": body["request_id"]}))["id"])

        again = await world.post(
            "/api/v1/advice", submissions[0][1], expect=200, **{"Idempotency-Key": submissions[0][1]["request_id"]}
        )
        assert again["outcome"] == "unchanged"
        duplicate = await world.post("/api/v1/advice", submissions[0][1], expect=409, **{"Idempotency-Key": "other"})
        assert (duplicate["field"], duplicate["rule"]) == ("data.request_id", "single-submission")

        for path, body in (
            (
                "/api/v1/panel-outcomes",
                {
                    "case_id": "J-1",
                    "la_code": LA,
                    "panel_date": "2026-04-20",
                    "outcome": "issue-plan",
                    "health_summary": "SALT",
                    "social_care_summary": "short breaks",
                    "education_summary": "1:1 support",
                },
            ),
            (
                "/api/v1/plans",
                {
                    "case_id": "J-1",
                    "la_code": LA,
                    "kind": "drafted",
                    "event_date": "2026-04-27",
                    "sections": {"c": "health", "d": "care", "f": "provision", "g": "therapy"},
                },
            ),
            ("/api/v1/notices", notice_body("J-1", "draft-plan", "2026-04-27", served="2026-04-29")),
            (
                "/api/v1/plans",
                {
                    "case_id": "J-1",
                    "la_code": LA,
                    "kind": "issued",
                    "event_date": "2026-05-18",
                    "sections": {"c": "health", "d": "care", "f": "provision", "g": "therapy"},
                },
            ),
        ):
            await world.wait_applied((await world.post(path, body))["id"])
        early = await world.post("/api/v1/notices", notice_body("J-1", "final-plan", "2026-05-13"), expect=422)
        assert (early["field"], early["rule"]) == ("data.sent_date", "representations-window")
        sent = await world.post("/api/v1/notices", notice_body("J-1", "final-plan", "2026-05-14"))
        await world.wait_applied(sent["id"])

        clocks = await world.clocks("J-1")
        expected = {
            "decision": ("2026-01-05", "2026-02-16", "2026-02-10"),  # stopped by the notice, not the decision
            "advice:education": ("2026-02-09", "2026-03-23", "2026-03-02"),
            "advice:educational-psychology": ("2026-02-09", "2026-03-23", "2026-03-09"),
            "family-advice": ("2026-02-09", "2026-03-23", "2026-02-20"),  # the LA's reminder, not a reg 8 limit
            "advice:social-care": ("2026-02-09", "2026-03-23", "2026-03-16"),
            "advice:health": ("2026-02-11", "2026-03-25", "2026-03-20"),
            "final-plan": ("2026-01-05", "2026-05-25", "2026-05-14"),
            "annual-review": ("2026-05-18", "2027-05-18", None),
        }
        assert {k: (c["start"], c["due"], c["stopped"]) for k, c in clocks.items()} == expected
        assert clocks["family-advice"]["state"] == "received"
        assert {c["state"] for k, c in clocks.items() if k not in ("annual-review", "family-advice")} == {"met"}

        assert await world.received_by("school") == {
            "assessment-requested": 1,  # reg 4(2)
            "assessment-decision-made": 1,
            "advice-requested": 1,
            "panel-outcome-recorded": 1,
            "plan-recorded": 2,
        }
        assert await world.received_by("educational-psychology") == {
            "assessment-decision-made": 1,
            "advice-requested": 1,
        }
        assert await world.received_by("health-commissioner") == {"assessment-requested": 1}  # reg 4(2)
        assert await world.received_by("nhs") == {
            "assessment-decision-made": 1,
            "advice-requested": 1,
            "panel-outcome-recorded": 1,
            "plan-recorded": 2,
        }
        assert await world.received_by("childrens-social-care") == {
            "assessment-requested": 1,  # reg 4(2)
            "assessment-decision-made": 1,
            "advice-requested": 1,
            "panel-outcome-recorded": 1,
            "plan-recorded": 2,
        }
        assert await world.received_by("la-sen") == {"advice-submitted": 5}
        assert await world.received_by("family") == {"advice-requested": 1}
        assert await world.received_by("adult-social-care") == {}

        figure = (await world.client.get("/ops/timeliness", params={"la_code": LA})).json()
        assert (figure["plans_issued"], figure["within_20_weeks"]) == (1, 1)
        world.set_today(date(2026, 6, 1))
        raised = (await world.runtime.watcher.sweep()).alerts
        assert [a.kind for a in raised] == ["transition-consideration-due"], "nothing is late; at 16, plan ahead"


async def test_school_closure_in_the_advice_window_is_applied_and_reported(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        opened = await world.post("/api/v1/assessment-requests", request_body("J-2", 2))
        await world.wait_applied(opened["id"])
        closure = {
            "exception_id": "CL-1",
            "case_id": "J-2",
            "kind": "school-closure",
            "start_date": "2026-02-12",
            "end_date": "2026-03-20",
            "recorded_by": "SEN officer",
            "note": "fire damage",
            "limit_impractical": True,
        }
        await world.wait_applied((await world.post("/api/v1/case-exceptions", closure))["id"])
        world.set_today(date(2026, 2, 9))
        await world.wait_applied((await world.post("/api/v1/assessment-decisions", decision_body("J-2")))["id"])
        await world.wait_applied(
            (
                await world.post(
                    "/api/v1/panel-outcomes",
                    {"case_id": "J-2", "la_code": LA, "panel_date": "2026-05-20", "outcome": "issue-plan"},
                )
            )["id"]
        )
        await world.wait_applied(
            (
                await world.post(
                    "/api/v1/plans", {"case_id": "J-2", "la_code": LA, "kind": "issued", "event_date": "2026-06-15"}
                )
            )["id"]
        )
        final = (await world.clocks("J-2"))["final-plan"]
        assert (final["due"], final["stopped"], final["state"]) == ("2026-05-25", "2026-06-15", "excepted")
        assert final["exceptions"] == ["school-closure:CL-1"]
        world.set_today(date(2026, 6, 16))
        raised = {a.kind for a in (await world.runtime.watcher.sweep()).alerts if a.case_id == "J-2"}
        assert "final-plan-exception-applied" in raised
        assert "final-plan-breached" not in raised
        figure = (await world.client.get("/ops/timeliness", params={"la_code": LA})).json()
        assert (figure["plans_issued"], figure["excluded_with_exceptions"]) == (0, 1)


async def test_late_health_advice_is_alerted_before_and_at_breach_per_agency(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        await _open_and_decide(world, "J-3")
        [nhs_request] = await _fetch(world, NHS["code"])
        assert nhs_request["received_date"] == "2026-02-09"

        async def received() -> bool:
            return (await world.clocks("J-3"))["advice:health"]["received"] is True

        await eventually(received)
        world.set_today(date(2026, 3, 8))
        assert not [
            a for a in (await world.runtime.watcher.sweep()).alerts if a.organisation and a.organisation.code == "RBS"
        ]
        world.set_today(date(2026, 3, 9))
        warned = [
            a for a in (await world.runtime.watcher.sweep()).alerts if a.organisation and a.organisation.code == "RBS"
        ]
        assert [(a.kind, a.severity, str(a.due_date)) for a in warned] == [("advice-due-soon", "warning", "2026-03-23")]
        world.set_today(date(2026, 3, 24))
        swept = (await world.runtime.watcher.sweep()).alerts
        breached = [a for a in swept if a.organisation and a.organisation.code == "RBS"]
        assert [(a.kind, a.severity) for a in breached] == [("advice-breached", "breach")]
        assert not [a for a in swept if a.organisation and a.organisation.agency == "family"], "reg 8 binds advisers"
        [reminder] = [a for a in swept if a.kind == "family-advice-reminder"]
        assert reminder.organisation is not None and (reminder.organisation.agency, reminder.severity) == (
            "la-sen",
            "info",
        )
        assert not [a for a in (await world.runtime.watcher.sweep()).alerts if a.organisation], (
            "each alert is raised once"
        )

        nhs_alerts = (await world.client.get("/ops/alerts", params={"agency": "nhs"})).json()
        assert {(a["kind"], a["organisation"]) for a in nhs_alerts} == {
            ("advice-due-soon", "RBS"),
            ("advice-breached", "RBS"),
        }
        overdue = (
            await world.client.get("/ops/clocks", params={"organisation": "RBS", "state_filter": "overdue"})
        ).json()
        assert [(c["case_id"], c["advice_kind"]) for c in overdue] == [("J-3", "health")]
        bounded = await world.client.get("/ops/clocks", params={"limit": 1})
        assert len(bounded.json()) == 1 and bounded.headers["x-truncated"] == "true"
        assert "x-truncated" not in (await world.client.get("/ops/clocks", params={"organisation": "RBS"})).headers
        assert (await world.received_by("nhs"))["alert-raised"] == 2


async def test_bad_input_gets_a_specific_answer_and_changes_nothing(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        unknown = await world.post("/api/v1/assessment-decisions", decision_body("NOPE"), expect=404)
        assert (unknown["field"], unknown["rule"]) == ("data.case_id", "known-case")
        opened = await world.post("/api/v1/assessment-requests", request_body("J-4", 4))
        await world.wait_applied(opened["id"])
        early = await world.post("/api/v1/assessment-decisions", decision_body("J-4", "2025-12-01"), expect=422)
        assert (early["field"], early["rule"]) == ("data.decision_date", "decision-after-request")
        ghost = {"request_id": "never-made", "advice_kind": "health"}
        never = await world.post("/api/v1/advice", advice_body("J-4", ghost, "2026-03-01", NHS), expect=404)
        assert (never["field"], never["rule"]) == ("data.request_id", "known-advice-request")
        bad_id = request_body("J-5", 5)
        bad_id["person"]["upn"] = "Z801200001001"
        invalid = await world.client.post("/api/v1/assessment-requests", json=bad_id)
        assert invalid.status_code == 422
        assert invalid.json()["field"] == "person.upn" and invalid.json()["rule"] == "upn-check-letter"
        trace = (await world.client.get("/ops/cases/J-4/trace")).json()
        assert trace["case"]["event_count"] == 1 and trace["case"]["decision"] is None

        # The same LA person id with a different NHS number: accepted, flagged, not merged.
        clash = request_body("J-7", 4)
        clash["person"]["nhs_number"] = nhs_number(99)
        await world.wait_applied((await world.post("/api/v1/assessment-requests", clash))["id"])
        alerts = (await world.client.get("/ops/alerts", params={"case_id": "J-7"})).json()
        assert [(a["kind"], a["severity"]) for a in alerts] == [("identity-conflict", "data-quality")]
        assert "already has a different nhs_number" in alerts[0]["message"]
        j4, j7 = (
            (await world.client.get("/ops/cases/J-4/trace")).json(),
            (await world.client.get("/ops/cases/J-7/trace")).json(),
        )
        assert j4["case"]["person_key"] == j7["case"]["person_key"], "linked by the LA person id"


async def test_webhook_that_fails_twice_then_succeeds_delivers_once(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        world.school.fail_next = 2
        await _open_and_decide(world, "J-6", advisers=[SCHOOL])

        async def delivered() -> bool:
            return len(world.school.of_kind("advice-requested")) == 1

        await eventually(delivered)
        assert world.school.fail_next == 0, "both failures were retried"
        assert len(world.school.distinct()) == len(world.school.received), "nothing arrived twice"
