"""Subject access over real sockets against the real broker: a young person's export lists every
disclosure the audit topic records for them, leaves out the carer whose assessment was offered
for reuse, and is itself audited without personal data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.store.tables import ops_audit
from hub.topics import AUDIT_TOPIC, OPS_AUDIT_TOPIC
from tests.helpers import disclosures, eventually, topic_records
from tests.integration.ehc_world import LA, ehc_world
from tests.integration.hub_process import hub_cli, hub_env
from tests.integration.test_transitions import (
    determine_need,
    give_ehc_plan,
    record_assessment,
    referrals_received,
    someone,
)

pytestmark = pytest.mark.kafka


async def test_a_young_persons_export_lists_every_disclosure_and_omits_the_carer(
    kafka: str, store_url: str, tmp_path: Path
) -> None:
    async with ehc_world(kafka, store_url) as world:
        yp, carer = someone(131, "2008-12-10", "Maya"), someone(231, "1980-02-02", "Grace")
        await give_ehc_plan(world, "SAR-1", yp)
        await record_assessment(world, "S60-SAR", "s60-childs-carers", carer, "2026-04-15", cared_for=[yp])
        await determine_need(world, "D-SAR", yp)
        [referral] = await referrals_received(world, 1)
        ask = {"identifier_type": "nhs_number", "identifier": yp["nhs_number"]}
        keys = {"SAR-1", "D-SAR", referral["referral_id"]}
        found: dict[str, Any] = {}

        async def every_disclosure_listed() -> bool:
            """The export against the disclosure audit topic, once the referral's effects are stored."""
            answer = await world.client.post("/ops/subject-access", json=ask)
            assert answer.status_code == 200, answer.text
            audit = await topic_records(kafka, world.runtime.names.physical(AUDIT_TOPIC))
            audited = disclosures([json.loads(r.value or b"")["data"] for r in audit])
            expected = sorted(_disclosure(a) for a in audited if a["case_id"] in keys)
            found.update(answer=answer, expected=expected)
            return sorted(_disclosure(d) for d in answer.json()["disclosures"]) == expected

        await eventually(every_disclosure_listed)
        answer = found["answer"]
        assert answer.headers["cache-control"] == "no-store"
        doc, text = answer.json(), answer.text
        assert len(found["expected"]) >= 5
        assert any(d["recipient"] == f"adult-social-care:{LA}" for d in doc["disclosures"]), "the referral"
        types = {e["event_type"].split(".")[2] for e in doc["events"]}
        assert {"assessment-requested", "transition-need-determined", "transition-referral-issued"} <= types
        received = {e["event_id"] for e in doc["events"]}
        assert all(d["source_event_id"] in received and d["at"] for d in doc["disclosures"]), "each names its event"

        assert yp["nhs_number"] in text and "Maya" in text
        for value in (carer["nhs_number"], "Grace", carer["date_of_birth"]):
            assert value not in text, "the carer is a third party"
        assert doc["counts"]["redactions"] > 0

        refused = await world.client.post("/ops/subject-access", json={**ask, "third_parties": "shown"})
        assert refused.status_code == 403 and "subject-access:third-parties" in refused.text
        async with world.as_("la-202") as council:
            assert (await council.post("/ops/subject-access", json=ask)).status_code == 403
        bad = await world.client.post("/ops/subject-access", json={**ask, "identifier": "9434765918"})
        assert bad.status_code == 422 and "Modulus 11" in bad.text

        page = await world.client.post("/ops/subject-access", json={**ask, "format": "html"})
        assert page.headers["content-type"].startswith("text/html")
        assert "SAR-1" in page.text and "Grace" not in page.text

        rows = await world.runtime.store.db.rows(select(ops_audit).where(ops_audit.c.action == "subject-access-export"))
        assert {answer.headers["x-audit-id"], page.headers["x-audit-id"]} <= {r["audit_id"] for r in rows}
        on_topic = [
            json.loads(r.value or b"")
            for r in await topic_records(kafka, world.runtime.names.physical(OPS_AUDIT_TOPIC))
        ]
        assert answer.headers["x-audit-id"] in {r["audit_id"] for r in on_topic}
        for value in (yp["nhs_number"], "Maya", yp["date_of_birth"]):
            assert value not in json.dumps([r["detail"] for r in rows], default=str)

        env = {**hub_env(world.runtime.settings, kafka, 0), "USER": "dana"}
        cli = await asyncio.to_thread(hub_cli, ["sar", yp["nhs_number"], "--html", str(tmp_path / "sar.html")], env)
        assert cli.returncode == 0, cli.stderr
        by_cli = json.loads(cli.stdout)
        assert sorted(map(_disclosure, by_cli["disclosures"])) == sorted(map(_disclosure, doc["disclosures"]))
        assert carer["nhs_number"] not in cli.stdout and "SAR-1" in (tmp_path / "sar.html").read_text()
        audits = await world.runtime.store.db.rows(select(ops_audit).where(ops_audit.c.actor == "cli dana"))
        assert [a["action"] for a in audits] == ["subject-access-export"]
        refused = await asyncio.to_thread(hub_cli, ["sar", "9434765918"], env)
        assert refused.returncode == 2 and "Modulus 11" in refused.stderr


def _disclosure(d: dict[str, Any]) -> tuple[str, tuple[str, ...], str]:
    return d["recipient"], tuple(d["fields"]), d["lawful_basis"]
