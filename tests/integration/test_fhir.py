"""NHS providers and the hub in FHIR R4, both directions, over real sockets and a real broker."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from tests.fhir_messages import document_reference_message, questionnaire_response_message
from tests.helpers import eventually, topic_records
from tests.integration.ehc_world import NHS, World, decision_body, ehc_world, request_body
from tests.servers import AgencyEndpoint, serving

pytestmark = pytest.mark.kafka
FHIR = "application/fhir+json"


async def _case_with_health_request(world: World, case_id: str, n: int) -> str:
    opened = await world.post("/api/v1/assessment-requests", request_body(case_id, n))
    await world.wait_applied(opened["id"])
    world.set_today(date(2026, 2, 9))
    decided = await world.post("/api/v1/assessment-decisions", decision_body(case_id, advisers=[NHS]))
    await world.wait_applied(decided["id"])
    return request_body(case_id, n)["person"]["nhs_number"]


async def _tasks(world: World, status: str = "requested") -> list[dict[str, Any]]:
    response = await world.client.get(
        "/fhir/Task", params={"owner": f"https://fhir.nhs.uk/Id/ods-organization-code|{NHS['code']}", "status": status}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith(FHIR)
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return [e["resource"] for e in bundle["entry"]]


async def _la_advice(world: World) -> list[dict[str, Any]]:
    records = await topic_records(world.kafka, world.runtime.names.physical("out.la-sen.v1"))
    events = {json.loads(r.value or b"")["id"]: json.loads(r.value or b"") for r in records}
    return [e["data"] for e in events.values() if e["type"] == "uk.ehc-hub.advice-submitted.v1"]


async def test_provider_polls_accepts_and_answers_with_a_questionnaire_response(kafka: str, store_url: str) -> None:
    async with ehc_world(kafka, store_url) as world:
        nhs = await _case_with_health_request(world, "F-1", 21)
        world.set_today(date(2026, 2, 12))
        [task] = await _tasks(world)
        assert task["owner"]["identifier"]["value"] == "RBS" and task["for"]["identifier"]["value"] == nhs
        assert task["restriction"]["period"]["end"] == "2026-03-23"
        accepted = await world.client.patch(
            f"/fhir/Task/{task['id']}",
            json=[{"op": "replace", "path": "/status", "value": "accepted"}],
            headers={"content-type": "application/json-patch+json"},
        )
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"

        async def clock_started() -> bool:
            clocks = await world.clocks("F-1")
            return clocks["advice:health"]["start"] == "2026-02-12"

        await eventually(clock_started)
        moved = (await world.client.get(f"/fhir/Task/{task['id']}")).json()
        due = (await world.clocks("F-1"))["advice:health"]["due"]
        assert moved["restriction"]["period"]["end"] == due == "2026-03-26", "six weeks from the receipt (reg 8)"
        missed = {
            "exception_id": "MA-1",
            "case_id": "F-1",
            "kind": "missed-appointment",
            "start_date": "2026-02-20",
            "end_date": "2026-02-20",
            "request_id": task["id"],
            "recorded_by": "SEN officer",
            "limit_impractical": True,
        }
        await world.wait_applied((await world.post("/api/v1/case-exceptions", missed))["id"])
        clock = (await world.clocks("F-1"))["advice:health"]
        after = (await world.client.get(f"/fhir/Task/{task['id']}")).json()
        assert clock["exceptions"] and after["restriction"]["period"]["end"] == clock["due"], (
            "the Task follows the clock"
        )
        message = questionnaire_response_message("BUNDLE-1", task["id"], nhs)
        response = await world.client.post("/fhir/$process-message", json=message, headers={"content-type": FHIR})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert reply["type"] == "message"
        assert reply["entry"][0]["resource"]["response"] == {"identifier": "mh-BUNDLE-1", "code": "ok"}

        async def advice_arrived() -> bool:
            return len(await _la_advice(world)) == 1

        await eventually(advice_arrived)
        [advice] = await _la_advice(world)
        assert (advice["case_id"], advice["request_id"], advice["advice_kind"]) == ("F-1", task["id"], "health")
        assert advice["adviser"] == {
            "name": "Priya Shah",
            "role": "Health professional",
            "organisation": {"agency": "nhs", "code": "RBS"},
        }
        assert advice["signed_off_by"]["name"] == "Dr Anil Rao"
        assert (advice["submitted_date"], advice["signed_off_date"]) == ("2026-03-20", "2026-03-21")

        async def completed() -> bool:
            return (await world.client.get(f"/fhir/Task/{task['id']}")).json()["status"] == "completed"

        await eventually(completed)
        done = (await world.client.get(f"/fhir/Task/{task['id']}")).json()
        assert done["output"][0]["valueReference"]["identifier"]["value"]
        again = await world.client.post("/fhir/$process-message", json=message, headers={"content-type": FHIR})
        assert again.status_code == 200 and again.content == response.content, "answered as before, to the byte"
        assert len(await _la_advice(world)) == 1, "and not duplicated downstream"
        rewrapped = questionnaire_response_message("BUNDLE-1B", task["id"], nhs)
        rewrapped["entry"][1]["resource"]["id"] = "qr-BUNDLE-1"  # the same advice in a new envelope
        rewrapped["entry"][0]["resource"]["focus"] = [{"reference": rewrapped["entry"][1]["fullUrl"]}]
        resent = await world.client.post("/fhir/$process-message", json=rewrapped)
        assert resent.status_code == 200 and len(await _la_advice(world)) == 1
        other = questionnaire_response_message("BUNDLE-2", task["id"], nhs)
        duplicate = await world.client.post("/fhir/$process-message", json=other)
        assert duplicate.status_code == 409 and duplicate.json()["issue"][0]["code"] == "duplicate"
        assert (await world.clocks("F-1"))["advice:health"]["state"] == "met"


async def test_provider_sends_a_pdf_report_as_a_document_reference(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        nhs = await _case_with_health_request(world, "F-2", 22)
        [task] = await _tasks(world)
        response = await world.client.post("/fhir/Bundle", json=document_reference_message("BUNDLE-3", task["id"], nhs))
        assert response.status_code == 201, response.text

        async def advice_arrived() -> bool:
            return len(await _la_advice(world)) == 1

        await eventually(advice_arrived)
        [advice] = await _la_advice(world)
        assert advice["case_id"] == "F-2" and advice["submitted_date"] == "2026-03-18"
        assert advice["signed_off_by"]["name"] == "Anil Rao"
        assert any(a.startswith("data:application/pdf;base64,") for a in advice["attachments"])
        again = await world.client.post("/fhir/Bundle", json=document_reference_message("BUNDLE-3", task["id"], nhs))
        assert again.status_code == 200


async def test_errors_are_operation_outcomes_naming_the_element(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url, fhir_max_body_bytes=200_000) as world:
        meta = await world.client.get("/fhir/metadata")
        assert meta.json()["fhirVersion"] == "4.0.1" and meta.headers["content-type"].startswith(FHIR)
        assert (await world.client.get("/fhir/Questionnaire/ehc-health-advice")).json()["status"] == "active"
        nhs = await _case_with_health_request(world, "F-3", 23)
        [task] = await _tasks(world)
        bad = questionnaire_response_message("BUNDLE-4", task["id"], "9434765918")
        refused = await world.client.post("/fhir/$process-message", json=bad)
        assert refused.status_code == 422 and refused.headers["content-type"].startswith(FHIR)
        issue = refused.json()["issue"][0]
        assert issue["expression"] == ["Bundle.entry[3].resource.ofType(Patient).identifier[0].value"]
        assert "Modulus 11" in issue["diagnostics"]
        someone_else = questionnaire_response_message("BUNDLE-5", task["id"], "9434765919")
        assert (await world.client.post("/fhir/$process-message", json=someone_else)).status_code == 422
        wrong_owner = questionnaire_response_message("BUNDLE-6", task["id"], nhs, ods="RJ1")
        assert (await world.client.post("/fhir/$process-message", json=wrong_owner)).status_code == 403
        unknown = questionnaire_response_message("BUNDLE-7", "NO-SUCH-REQUEST", nhs)
        assert (await world.client.post("/fhir/$process-message", json=unknown)).status_code == 404
        big = document_reference_message("BUNDLE-8", task["id"], nhs, data=b"x" * 300_000)
        too_big = await world.client.post("/fhir/Bundle", json=big)
        assert too_big.status_code == 413 and too_big.json()["issue"][0]["code"] == "too-long"
        assert (await world.client.get("/fhir/Task/NOPE")).status_code == 404
        no_reason = dict(task, status="rejected")
        rejected = await world.client.put(f"/fhir/Task/{task['id']}", json=no_reason)
        assert rejected.status_code == 422 and rejected.json()["issue"][0]["expression"] == ["Task.statusReason"]
        completed = await world.client.put(f"/fhir/Task/{task['id']}", json=dict(task, status="completed"))
        assert completed.status_code == 422
        with_reason = dict(task, status="rejected", statusReason={"text": "not our catchment"})
        assert (await world.client.put(f"/fhir/Task/{task['id']}", json=with_reason)).status_code == 200

        async def la_told() -> bool:
            alerts = (await world.client.get("/ops/alerts", params={"case_id": "F-3"})).json()
            return any(a["kind"] == "advice-request-rejected" for a in alerts)

        await eventually(la_told)


async def test_push_to_a_provider_endpoint_that_fails_twice_is_delivered_once(kafka: str, sqlite_url: str) -> None:
    provider = AgencyEndpoint()
    provider.fail_next = 2
    async with (
        serving(provider.app) as provider_url,
        ehc_world(kafka, sqlite_url, fhir_endpoints={"RBS": f"{provider_url}/fhir"}) as world,
    ):
        await _case_with_health_request(world, "F-4", 24)

        async def delivered() -> bool:
            return len(provider.of_kind("ehc-health-advice-request")) == 1

        await eventually(delivered)
        assert provider.fail_next == 0 and set(provider.paths) == {"/fhir/$process-message"}
        [bundle] = provider.of_kind("ehc-health-advice-request")
        assert bundle["type"] == "message" and bundle["entry"][0]["resource"]["resourceType"] == "MessageHeader"
        assert bundle["entry"][1]["resource"]["resourceType"] == "Task"
        assert len(provider.distinct()) == len(provider.received), "nothing arrived twice"

        async def received_recorded() -> bool:
            return (await world.clocks("F-4"))["advice:health"]["received"] is True

        await eventually(received_recorded)
        pushed_due = bundle["entry"][1]["resource"]["restriction"]["period"]["end"]
        assert pushed_due == (await world.clocks("F-4"))["advice:health"]["due"], "the pushed Task has the clock's date"


async def test_every_error_under_fhir_is_an_operation_outcome_and_formats_are_negotiated(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        as_provider = {"X-Test-As": "nhs-rbs"}
        cases = [
            ("GET", "/fhir/ServiceRequest", {}, 404),
            ("GET", "/fhir/Patient/1", {}, 404),
            ("GET", "/fhir/Task/no-such-task", {}, 404),
            ("DELETE", "/fhir/Task/no-such-task", {}, 405),
            ("PUT", "/fhir/DocumentReference/x", {"content-type": FHIR}, 404),
            ("POST", "/fhir/$process-message", {"content-type": "text/plain"}, 415),
            ("POST", "/fhir/Bundle", {"content-type": "application/x-www-form-urlencoded"}, 415),
            ("GET", "/fhir/metadata", {"accept": "application/fhir+xml"}, 406),
            ("GET", "/fhir/metadata?_format=xml", {}, 406),
            ("GET", "/fhir/Task?owner=RBS", {"accept": "text/html"}, 406),
        ]
        for method, path, headers, status in cases:
            body = b"{}" if method in ("POST", "PUT") else None
            answer = await world.client.request(method, path, content=body, headers={**as_provider, **headers})
            assert answer.status_code == status, (method, path, answer.status_code, answer.text[:200])
            assert answer.headers["content-type"].startswith(FHIR), (method, path)
            assert answer.json()["resourceType"] == "OperationOutcome", (method, path)
            if status == 405:
                assert "GET" in answer.headers["allow"]
        for accept in ("*/*", "application/json", "application/fhir+json; fhirVersion=4.0"):
            assert (await world.client.get("/fhir/metadata", headers={"accept": accept})).status_code == 200
        assert (await world.client.get("/fhir/metadata?_format=json")).status_code == 200


async def test_task_search_pages_and_filters_as_a_provider_recovering_its_work_needs(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        await _case_with_health_request(world, "F-7", 27)
        await _case_with_health_request(world, "F-8", 28)
        owner = f"https://fhir.nhs.uk/Id/ods-organization-code|{NHS['code']}"
        first = (await world.client.get("/fhir/Task", params={"owner": owner, "_count": 1})).json()
        assert (first["total"], len(first["entry"])) == (2, 1)
        links = {link["relation"]: link["url"] for link in first["link"]}
        assert set(links) == {"self", "next"} and links["next"].startswith(str(world.client.base_url))
        second = (await world.client.get(links["next"])).json()
        assert len(second["entry"]) == 1 and {link["relation"] for link in second["link"]} == {"self", "previous"}
        ids = {first["entry"][0]["resource"]["id"], second["entry"][0]["resource"]["id"]}
        assert len(ids) == 2, "the pages hold different Tasks"
        one = sorted(ids)[0]
        by_id = (await world.client.get("/fhir/Task", params={"owner": owner, "_id": one})).json()
        assert [e["resource"]["id"] for e in by_id["entry"]] == [one]
        recent = await world.client.get("/fhir/Task", params={"owner": owner, "_lastUpdated": "ge2026-02-09"})
        old = await world.client.get("/fhir/Task", params={"owner": owner, "_lastUpdated": "lt2026-01-01"})
        assert (recent.json()["total"], old.json()["total"]) == (2, 0)
        bad = await world.client.get("/fhir/Task", params={"owner": owner, "_lastUpdated": "ge-yesterday"})
        assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
        several = await world.client.get("/fhir/Task", params={"owner": owner, "status": "requested,accepted"})
        assert several.json()["total"] == 2, "received Tasks still answer status=requested"
