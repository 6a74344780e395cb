"""HAPI FHIR, the reference implementation, checks the facade from outside: its validator finds no
error in anything the hub emits, and its generic client works through a provider's whole task
against `hub run`."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.nhs_fhir.notifications import communication, notification_message
from adapters.nhs_fhir.outbound import service_request
from adapters.nhs_fhir.questionnaire import QUESTIONNAIRE
from schemas.events import AdviceRequested
from tests import fhir_conformance
from tests.fhir_messages import document_reference_message, questionnaire_response_message
from tests.helpers import eventually, isolated_settings
from tests.identity import AsAgency, Tokens
from tests.integration.ehc_world import NHS, decision_body, ehc_world, request_body
from tests.integration.hub_process import HubProcess
from tests.integration.test_fhir import _case_with_health_request, _tasks
from tests.servers import AgencyEndpoint, serving

pytestmark = pytest.mark.kafka
NOTIFIED = {  # what the sharing policy lets an NHS provider see of each
    "panel-outcome-recorded": {
        "case_id": "V-1",
        "la_code": "202",
        "panel_date": "2026-03-02",
        "outcome": "issue-plan",
        "health_summary": "Speech and language therapy <weekly> & review",
    },
    "plan-recorded": {
        "case_id": "V-1",
        "la_code": "202",
        "kind": "final",
        "event_date": "2026-03-20",
        "sections": {"c": "Needs speech and language therapy", "g": ""},
    },
    "alert-raised": {
        "alert_id": "A-1",
        "case_id": "V-1",
        "kind": "advice-breached",
        "severity": "breach",
        "message": "health advice from RBS was due on 2026-03-23 and is late",
        "due_date": "2026-03-23",
        "organisation": {"agency": "nhs", "code": "RBS"},
    },
}
FHIR = {"content-type": "application/fhir+json"}
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


async def test_hapis_validator_finds_no_error_in_anything_the_facade_emits(
    kafka: str, sqlite_url: str, tmp_path: Path
) -> None:
    provider = AgencyEndpoint()
    emitted: dict[str, Any] = {}
    async with (
        serving(provider.app) as provider_url,
        ehc_world(kafka, sqlite_url, fhir_endpoints={"RBS": f"{provider_url}/fhir"}) as world,
    ):
        nhs = await _case_with_health_request(world, "V-1", 31)
        client = world.client

        async def got(name: str, answer: httpx.Response, status: int) -> dict[str, Any]:
            assert answer.status_code == status, (name, answer.status_code, answer.text[:300])
            emitted[name] = answer.json()
            return emitted[name]

        await got("capability-statement", await client.get("/fhir/metadata"), 200)
        await got("questionnaire", await client.get(f"/fhir/Questionnaire/{QUESTIONNAIRE['id']}"), 200)
        await got(
            "questionnaire-search", await client.get("/fhir/Questionnaire", params={"url": QUESTIONNAIRE["url"]}), 200
        )
        [task] = await _tasks(world)
        search = {"owner": f"{ODS}|{NHS['code']}", "status": "requested,received,accepted", "_count": 1}
        await got("task-search", await client.get("/fhir/Task", params=search), 200)
        await got("task", await client.get(f"/fhir/Task/{task['id']}"), 200)
        accepted = {**task, "status": "accepted"}
        await got("task-updated", await client.put(f"/fhir/Task/{task['id']}", json=accepted, headers=FHIR), 200)
        message = questionnaire_response_message("V-B1", task["id"], nhs)
        await got("process-message-response", await client.post("/fhir/$process-message", json=message), 200)
        second = document_reference_message("V-B2", task["id"], nhs)
        await got("outcome-duplicate", await client.post("/fhir/Bundle", json=second), 409)
        await got("outcome-not-found", await client.get("/fhir/Task/none"), 404)
        await got("outcome-bad-body", await client.post("/fhir/Bundle", content=b"[1]", headers=FHIR), 400)
        await got("outcome-not-acceptable", await client.get("/fhir/metadata", headers={"accept": "text/xml"}), 406)

        async def pushed() -> bool:
            return bool(provider.of_kind("ehc-health-advice-request"))

        await eventually(pushed)
        emitted["pushed-request-message"] = provider.of_kind("ehc-health-advice-request")[0]
        emitted["pushed-decision-message"] = provider.of_kind("ehc-assessment-decision")[0]
        for kind, data in NOTIFIED.items():
            emitted[f"notification-{kind}"] = notification_message(
                f"N-{kind}", kind, data, NHS["code"], "https://hub.example/fhir", "2026-03-02T10:00:00+00:00"
            )
            emitted[f"communication-{kind}"] = communication(f"C-{kind}", kind, data, NHS["code"], "2026-03-02")
    request = AdviceRequested.model_validate(
        {
            "case_id": "V-2",
            "request_id": "REQ-V2",
            "advice_kind": "health",
            "recipient": {"agency": "nhs", "code": "RBS"},
            "person": request_body("V-2", 32)["person"],
            "requested_date": date(2026, 2, 9),
            "due_date": date(2026, 3, 23),
        }
    )
    emitted["service-request"] = service_request(request)

    files = []
    for name, resource in emitted.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(resource))
        files.append(path)
    messages = await asyncio.to_thread(fhir_conformance.validate, files)
    errors = [f"{Path(m.file).stem} {m.location}: {m.message}" for m in messages if m.severity in ("error", "fatal")]
    assert not errors, "\n".join(errors)
    assert {Path(m.file).stem for m in messages} <= set(emitted), "the validator read every file"


async def test_hapis_generic_client_works_through_a_providers_task_against_hub_run(
    kafka: str, sqlite_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    settings = isolated_settings(sqlite_url)
    hub = HubProcess(settings, kafka, tmp_path / "hub.log")
    await asyncio.to_thread(hub.start)
    try:
        async with httpx.AsyncClient(base_url=hub.url, timeout=30, auth=AsAgency(tokens)) as client:
            opened = await client.post("/api/v1/assessment-requests", json=request_body("H-1", 33))
            assert opened.status_code == 202, opened.text

            async def decided() -> bool:
                answer = await client.post("/api/v1/assessment-decisions", json=decision_body("H-1", advisers=[NHS]))
                return answer.status_code in (200, 202)

            await eventually(decided)

            async def task_id() -> str | None:
                found = (await client.get("/fhir/Task", params={"owner": f"{ODS}|RBS", "_count": 50})).json()
                return next((e["resource"]["id"] for e in found.get("entry", [])), None)

            async def has_task() -> bool:
                return await task_id() is not None

            await eventually(has_task)
            found = await task_id()
            assert found is not None
        advice = tmp_path / "advice.json"
        nhs = request_body("H-1", 33)["person"]["nhs_number"]
        advice.write_text(json.dumps(questionnaire_response_message("H-B1", found, nhs)))
        ran = await asyncio.to_thread(
            fhir_conformance.provider_client, f"{hub.url}/fhir", await tokens.token("nhs-rbs"), "RBS", advice
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr[-3000:]
        assert ran.stdout.splitlines() == ["capability 4.0.1", "tasks 1", "updated accepted", "response ok"]
    finally:
        await asyncio.to_thread(hub.stop)
