"""A guided demonstration: synthetic journeys played through every agency on a running hub.

The people are made up; NHS numbers are in the 999 test range and UPNs carry valid check
letters. Dates are set relative to today so that one journey has completed on time, one has
health advice overdue (and alerted), one advice submission names a request that was never
made, which the hub dead-letters with the reason, and one plan is reviewed ahead of the move to
secondary school (a phase transfer), with the next school named.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from schemas.identifiers import UPN_LETTERS

LA = "202"
SCHOOL = {"agency": "school", "code": "100001", "name": "Hillside Primary School"}
EP = {"agency": "educational-psychology", "code": "202-EPS", "name": "Camden Educational Psychology"}
NHS = {"agency": "nhs", "code": "RBS", "name": "Evelina London Children's Hospital"}
CSC = {"agency": "childrens-social-care", "code": "202-CSC", "name": "Camden Children's Services"}
FAMILY = {"agency": "family", "code": LA}
ORG_FOR = {
    "education": SCHOOL,
    "educational-psychology": EP,
    "health": NHS,
    "social-care": CSC,
    "parent-or-young-person": FAMILY,
}

# Who plays each part: the development realm's clients, each acting for its own organisation.
DEMO_CLIENTS = {
    "la-sen": "la-202",
    "school": "school-100001",
    "educational-psychology": "ep-202",
    "nhs": "nhs-rbs",
    "childrens-social-care": "csc-202",
    "family": "la-202",  # parents' views reach the LA, which records them
    "ops": "ops-monitor",
}

PEOPLE = [
    ("DEMO-AMIRA", "Amira", "Okafor", date(2016, 3, 14), "9990001006", 4),
    ("DEMO-LEO", "Leo", "Brennan", date(2012, 7, 2), "9990002002", 8),
    ("DEMO-SKY", "Skye", "Patel", date(2010, 11, 23), "9990003009", 10),
    ("DEMO-NOAH", "Noah", "Adeyemi", date(2015, 3, 5), "9990004005", 6),  # born in Year 6's cohort: see year_6_born
]
NEXT_SCHOOL = {"agency": "school", "code": "100002", "name": "Brookside Academy"}


def year_6_born(today: date) -> date:
    """A birthday that puts someone in Year 6 on ``today``, so they move to secondary school next September."""
    school_year = today.year - (today.month < 9)
    return date(school_year - 10, 3, 5)


def demo_upn(serial: int) -> str:
    """A real-looking UPN for LA 202 with its DfE check letter."""
    body = f"202{1234:04d}{24:02d}{serial:03d}"
    total = sum(w * int(c) for w, c in zip(range(2, 14), body, strict=True))
    return UPN_LETTERS[total % 23] + body


class Demo:
    """Each agency calls the hub with its own credentials, as its system would (``clients`` maps
    agency kinds, and ``ops`` for the operator's checks, to an authenticated HTTP client)."""

    def __init__(
        self, clients: dict[str, httpx.AsyncClient], bootstrap: str, topic_prefix: str, say: Callable[[str], None]
    ):
        self.clients = clients
        self.bootstrap = bootstrap
        self.prefix = topic_prefix
        self.say = say

    async def post(self, path: str, body: dict[str, Any], by: str = "la-sen") -> dict[str, Any]:
        client = self.clients[by]
        response = await client.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        if response.status_code >= 400:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
        return response.json()

    async def wait_for(self, case_id: str, check: Callable[[dict[str, Any]], bool], tries: int = 100) -> dict:
        import asyncio

        for _ in range(tries):
            response = await self.clients["ops"].get(f"/ops/cases/{case_id}/trace")
            if response.status_code == 200 and check(response.json()):
                return response.json()
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the hub did not process {case_id} in time; is `hub run` running?")

    async def open_case(self, n: int, today: date, weeks_ago: int, born: date | None = None) -> tuple[str, date]:
        case_id, given, family, dob, nhs, year = PEOPLE[n]
        dob = born or dob
        received = today - timedelta(weeks=weeks_ago)
        await self.post(
            "/api/v1/assessment-requests",
            {
                "case_id": case_id,
                "la_code": LA,
                "requested_by": "parent",
                "received_date": received.isoformat(),
                "year_group": year,
                "school": SCHOOL,
                "person": {
                    "nhs_number": nhs,
                    "upn": demo_upn(n + 1),
                    "la_person_id": f"LA-{n + 1:04d}",
                    "la_code": LA,
                    "given_name": given,
                    "family_name": family,
                    "date_of_birth": dob.isoformat(),
                },
            },
        )
        await self.wait_for(case_id, lambda t: t["case"] is not None)
        self.say(f"  {case_id}: request received {received} (Day 1); decision due within 6 weeks")
        return case_id, received

    async def decide(self, case_id: str, day: date, year_group: int) -> dict[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "case_id": case_id,
            "la_code": LA,
            "decision": "assess",
            "decision_date": day.isoformat(),
            "advisers": [SCHOOL, EP, NHS, CSC],
        }
        if year_group >= 9:
            body["advice_sources"] = [{"advice_kind": "preparing-for-adulthood", "organisation": CSC}]
        await self.post("/api/v1/assessment-decisions", body)
        await self.notify(case_id, "decision-to-assess", day)
        await self.wait_for(case_id, lambda t: t["case"]["decision_notified_date"] is not None)
        requests: dict[str, dict[str, Any]] = {}
        for org in (SCHOOL, EP, NHS, CSC, FAMILY):
            inbox = self.clients[org["agency"]]
            fetched = (await inbox.get("/api/v1/advice-requests", params={"recipient": org["code"]})).json()
            for r in fetched:
                if r["case_id"] == case_id:
                    requests[r["advice_kind"]] = r
        for r in requests.values():  # the demo replays history: each adviser had the request on the day
            await self.post(
                "/api/v1/advice-receipts",
                {
                    "case_id": case_id,
                    "request_id": r["request_id"],
                    "recipient": r["recipient"],
                    "received_date": day.isoformat(),
                    "channel": "manual",
                },
            )
        self.say(f"  {case_id}: decision to assess on {day}; advice requested: {', '.join(sorted(requests))}")
        return requests

    async def issue_plan(self, case_id: str, received: date) -> None:
        """The panel agrees to issue; the draft in week 15 and the final plan in week 19, each with its notice."""
        panel = {
            "case_id": case_id,
            "la_code": LA,
            "outcome": "issue-plan",
            "panel_date": (received + timedelta(weeks=14)).isoformat(),
            "health_summary": "speech and language therapy",
        }
        await self.post("/api/v1/panel-outcomes", panel)
        for kind, notice, week in (("drafted", "draft-plan", 15), ("issued", "final-plan", 19)):
            day = received + timedelta(weeks=week)
            await self.post(
                "/api/v1/plans", {"case_id": case_id, "la_code": LA, "kind": kind, "event_date": day.isoformat()}
            )
            await self.notify(case_id, notice, day)
        await self.wait_for(case_id, lambda t: t["case"]["final_plan_date"] is not None)

    async def review_and_transfer(self, today: date) -> str:
        """A plan issued last year, reviewed this autumn ahead of the move to secondary school."""
        noah, received = await self.open_case(3, today, 70, born=year_6_born(today))
        requests = await self.decide(noah, received + timedelta(weeks=5), PEOPLE[3][5])
        for request in requests.values():
            await self.advise(noah, request, received + timedelta(weeks=8))
        await self.issue_plan(noah, received)
        moves_on = date(today.year + (today.month >= 9), 9, 1)
        await self.post(
            "/api/v1/phase-transfers",
            {
                "transfer_id": f"{noah}-year-7",
                "case_id": noah,
                "la_code": LA,
                "transfer_kind": "school-phase",
                "transfer_date": moves_on.isoformat(),
                "next_institution": NEXT_SCHOOL,
            },
        )
        meeting = today - timedelta(weeks=2)
        steps: list[tuple[str, date, dict[str, Any]]] = [
            (
                "scheduled",
                today - timedelta(weeks=5),
                {"meeting_date": meeting.isoformat(), "invitees": [SCHOOL, NHS, CSC]},
            ),
            ("advice-circulated", meeting - timedelta(weeks=2), {}),
            ("held", meeting, {"pfa_considered": False}),
            ("report-sent", meeting + timedelta(days=5), {}),
            ("decision-notified", today - timedelta(days=3), {"decision": "amend"}),
        ]
        for step, day, extra in steps:
            review = {"review_id": f"{noah}-review-1", "case_id": noah, "la_code": LA, "review_type": "phase-transfer"}
            await self.post("/api/v1/reviews", {**review, "step": step, "step_date": day.isoformat(), **extra})
        clocks = await self.wait_for_clocks(noah, {"phase-transfer", "amended-plan"})
        self.say(
            f"  {noah}: review held {meeting}, the school, the NHS and social care asked for advice when it was "
            "scheduled; the LA decided to amend the plan"
        )
        self.say(
            f"  amended plan due by {clocks['amended-plan']['due']}; naming {NEXT_SCHOOL['name']} for the move on "
            f"{moves_on} by {clocks['phase-transfer']['due']} (reg 18), which now receives the plan too"
        )
        return noah

    async def wait_for_clocks(self, case_id: str, kinds: set[str], tries: int = 100) -> dict[str, dict[str, Any]]:
        for _ in range(tries):
            clocks = (await self.clients["ops"].get(f"/ops/cases/{case_id}/clocks")).json()
            found = {c["kind"]: c for c in clocks if c["kind"] in kinds and c["state"] != "met"}
            if kinds <= set(found):
                return found
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the hub did not process {case_id} in time; is `hub run` running?")

    async def notify(self, case_id: str, kind: str, day: date) -> None:
        """The notice to the family that meets a time limit (the limits run to notices, not decisions)."""
        await self.post(
            "/api/v1/notices",
            {
                "notice_id": f"{case_id}-{kind}",
                "case_id": case_id,
                "la_code": LA,
                "notice": kind,
                "sent_date": day.isoformat(),
                "recipients": ["parent"],
                "appeal_information": True,
                "mediation_information": True,
            },
        )

    async def advise(self, case_id: str, request: dict[str, Any], day: date) -> None:
        org = request["recipient"]
        body = {
            "case_id": case_id,
            "request_id": request["request_id"],
            "advice_kind": request["advice_kind"],
            "submitted_date": day.isoformat(),
            "summary": f"{request['advice_kind']} advice",
            "adviser": {"name": "Demo Adviser", "role": request["advice_kind"], "organisation": org},
        }
        if org["agency"] == "nhs":
            body["signed_off_by"] = {"name": "Dr Rao", "role": "Designated Medical Officer", "organisation": org}
            body["signed_off_date"] = day.isoformat()
        path = "/api/v1/social-care/advice" if org["agency"] == "childrens-social-care" else "/api/v1/advice"
        await self.post(path, body, by=org["agency"])

    async def run(self, today: date) -> dict[str, Any]:
        self.say("Journey 1: Amira, whole process on time")
        amira, received = await self.open_case(0, today, 22)
        requests = await self.decide(amira, received + timedelta(weeks=5), PEOPLE[0][5])
        for i, request in enumerate(requests.values()):
            await self.advise(amira, request, received + timedelta(weeks=8, days=i))
        await self.post(
            "/api/v1/panel-outcomes",
            {
                "case_id": amira,
                "la_code": LA,
                "outcome": "issue-plan",
                "panel_date": (received + timedelta(weeks=14)).isoformat(),
                "health_summary": "speech and language therapy",
            },
        )
        await self.issue_plan(amira, received)
        self.say(f"  {amira}: panel agreed to issue; final plan issued in week 19 (due by week 20)")

        self.say("Journey 2: Leo, health advice not returned in time")
        leo, received = await self.open_case(1, today, 14)
        requests = await self.decide(leo, received + timedelta(weeks=5), PEOPLE[1][5])
        for kind, request in requests.items():
            if kind != "health":
                await self.advise(leo, request, received + timedelta(weeks=7))
        self.say(f"  {leo}: every adviser replied except the NHS provider {NHS['code']}")

        self.say("Journey 3: Skye, Year 10, preparing-for-adulthood advice; one submission goes astray")
        skye, received = await self.open_case(2, today, 3)
        await self.decide(skye, received + timedelta(weeks=2), PEOPLE[2][5])
        await self._send_astray(skye, today)
        self.say(f"  {skye}: advice naming a request that was never made was sent straight to Kafka;")
        self.say("    the hub retries it (the request might be in flight), then dead-letters it with the reason")

        self.say("Journey 4: Noah, Year 6, a review ahead of the move to secondary school")
        noah = await self.review_and_transfer(today)

        sweep = (await self.clients["ops"].post("/ops/clocks/sweep")).json()
        ours = [a for a in sweep["raised"] if a["case_id"] in (amira, leo, skye, noah)]
        others = sweep["count"] - len(ours)
        self.say(
            f"Clock check: {len(ours)} alert(s) for these journeys" + (f" ({others} for other cases)" if others else "")
        )
        for alert in ours:
            self.say(f"  [{alert['severity']}] {alert['case_id']}: {alert['message']}")
        await self._await_dead_letter(skye)
        return {"cases": [amira, leo, skye, noah], "alerts": ours}

    async def _await_dead_letter(self, case_id: str, timeout: float = 180) -> None:
        """Wait until the astray submission has been retried and dead-lettered, so that
        `hub dlq list`, printed next, shows it."""
        self.say("Waiting for the astray advice to pass its retries (a minute or so with the default delays)")
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            found = (await self.clients["ops"].get("/ops/dead-letters", params={"case_id": case_id})).json()
            if found:
                self.say(f"  dead-lettered at stage {found[0]['stage']}: {found[0]['exception_message']}")
                return
            await asyncio.sleep(2)
        self.say("  not dead-lettered yet: the retry delays are longer than usual (HUB_RETRY_DELAYS_SECONDS)")

    async def _send_astray(self, case_id: str, today: date) -> None:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/nhs/RBS",  # straight onto Kafka, as a misconfigured adapter might
            "time": f"{today}T09:00:00Z",
            "type": "uk.ehc-hub.advice-submitted.v1",
            "subject": case_id,
            "correlationid": str(uuid.uuid4()),
            "datacontenttype": "application/json",
            "data": {
                "case_id": case_id,
                "request_id": "REQ-NEVER-MADE",
                "advice_kind": "health",
                "submitted_date": today.isoformat(),
                "adviser": {"name": "Dr X", "role": "Paediatrician", "organisation": NHS},
            },
        }
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{self.prefix}ehc.advice-submissions.v1", json.dumps(event).encode(), key=case_id.encode()
            )
        finally:
            await producer.stop()
