"""The newcomer's demonstration plays every flow, including a late advice and a dead letter."""

from __future__ import annotations

from datetime import date

import pytest

from hub.devtools.demo import DEMO_CLIENTS, Demo
from tests.helpers import eventually
from tests.integration.ehc_world import ehc_world
from tests.servers import kind_of

pytestmark = pytest.mark.kafka


async def test_demo_shows_every_flow_a_late_advice_and_a_dead_letter(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        today = date(2026, 11, 25)
        world.set_today(today)
        said: list[str] = []
        clients = {part: world.as_(client_id) for part, client_id in DEMO_CLIENTS.items()}
        result = await Demo(clients, kafka, world.runtime.names.prefix, said.append).run(today)
        for client in clients.values():
            await client.aclose()
        assert result["cases"] == ["DEMO-AMIRA", "DEMO-LEO", "DEMO-SKY", "DEMO-NOAH"]

        amira = {
            c["kind"]: c
            for c in (await world.client.get("/ops/cases/DEMO-AMIRA/clocks")).json()
            if c["kind"] != "advice"
        }
        assert amira["final-plan"]["state"] == "met"
        breaches = [a for a in result["alerts"] if a["severity"] == "breach"]
        assert [(a["case_id"], a["kind"], a["organisation"]["code"]) for a in breaches] == [
            ("DEMO-LEO", "advice-breached", "RBS")
        ]
        skye_advice = [
            c for c in (await world.client.get("/ops/cases/DEMO-SKY/clocks")).json() if c["kind"] == "advice"
        ]
        assert "preparing-for-adulthood" in {c["advice_kind"] for c in skye_advice}

        async def dead_lettered() -> bool:
            return bool((await world.client.get("/ops/dead-letters", params={"case_id": "DEMO-SKY"})).json())

        await eventually(dead_lettered)
        [dead] = (await world.client.get("/ops/dead-letters", params={"case_id": "DEMO-SKY"})).json()
        assert dead["stage"] == "rules" and "REQ-NEVER-MADE" in dead["exception_message"]
        assert any("Journey 2" in line for line in said)

        noah = {
            c["clock_id"].split(":", 1)[1]: c for c in (await world.client.get("/ops/cases/DEMO-NOAH/clocks")).json()
        }
        transfer = noah["phase-transfer:DEMO-NOAH-year-7"]
        assert (transfer["due"], transfer["state"]) == ("2027-02-14", "running"), "before 15 February"
        review = "DEMO-NOAH-review-1"
        assert (
            noah[f"amended-plan:{review}"]["state"] == "running" and noah[f"review-decision:{review}"]["state"] == "met"
        )
        assert any("Journey 4" in line for line in said) and any("2027-02-14" in line for line in said)

        async def next_school_told() -> bool:
            return {"review-recorded"} <= {kind_of(b) for b in world.other_school.received}

        await eventually(next_school_told)
        assert any(line.startswith("  dead-lettered at stage rules") for line in said), said[-4:]
        assert (
            await world.received_by("la-sen") and (await world.received_by("nhs"))["advice-requested"] == 5
        )  # four assessments and one review
