"""Every caller is an authenticated organisation that sees and changes only what is its own:
proven over real sockets with tokens from a real Keycloak and a real broker."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from hub.devtools.keycloak_local import ADMIN_PASSWORD, ADMIN_USER, KeycloakInfo
from hub.settings import Settings
from tests.helpers import eventually
from tests.identity import Tokens
from tests.integration.ehc_world import CSC, LA, NHS, SCHOOL, World, decision_body, ehc_world, request_body
from tests.local_issuer import unsigned

pytestmark = pytest.mark.kafka
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/fhir/metadata")}
SIGN_IN = {("GET", "/auth/login"), ("GET", "/auth/callback")}


async def _open_case_with_requests(world: World, case_id: str, n: int) -> dict[str, dict[str, Any]]:
    await world.wait_applied((await world.post("/api/v1/assessment-requests", request_body(case_id, n)))["id"])
    await world.wait_applied((await world.post("/api/v1/assessment-decisions", decision_body(case_id)))["id"])

    async def requested() -> bool:
        return len((await world.runtime.store.case_contexts([case_id]))[case_id].advice) >= 4

    await eventually(requested)
    rows = (await world.runtime.store.snapshot())["advice_requests"]
    return {r["recipient_code"]: r for r in rows if r["case_id"] == case_id}


async def test_no_operation_answers_without_a_token(kafka: str, sqlite_url: str) -> None:
    """Walks the whole OpenAPI document, and the routes it does not describe: a route added later
    without a permission check fails here."""
    async with ehc_world(kafka, sqlite_url) as world, httpx.AsyncClient(base_url=world.client.base_url) as anonymous:
        document = (await world.client.get("/openapi.json")).json()
        assert (await anonymous.get("/openapi.json")).status_code == 401
        operations = [
            (method.upper(), path)
            for path, item in document["paths"].items()
            for method in item
            if method != "parameters"
        ]
        operations += [
            (method, route.path)  # type: ignore[attr-defined]
            for route in world.app.routes
            if getattr(route, "include_in_schema", True) is False
            for method in getattr(route, "methods", ()) or ()
            if method != "HEAD"
        ]
        assert len(operations) > 30 and any(p.startswith("/fhir/") for _, p in operations)
        checked = 0
        for method, path in sorted(set(operations)):
            url = path.replace("{", "").replace("}", "")  # every path parameter becomes its own name
            response = await anonymous.request(method, url)
            if (method, path) in PUBLIC:
                assert response.status_code < 400, (method, path, response.status_code)
            elif (method, path) in SIGN_IN:
                assert response.status_code in (302, 303, 307, 400), (method, path, response.status_code)
            elif path == "/":
                assert response.status_code == 303 and response.headers["location"] == "/auth/login"
            else:
                assert response.status_code == 401, (method, path, response.status_code, response.text[:200])
                assert response.headers["www-authenticate"].startswith("Bearer")
                if path.startswith("/fhir/"):
                    assert response.json()["resourceType"] == "OperationOutcome"
                checked += 1
        assert checked > 30

        secured = [
            op
            for item in document["paths"].values()
            for method, op in item.items()
            if isinstance(op, dict) and "security" in op
        ]
        assert secured and all("oauth2" in s for op in secured for s in op["security"])
        scopes = {scope for op in secured for s in op["security"] for scope in s["oauth2"]}
        assert {"ops:read", "ops:operate", "inbox:read", "submit:panel-outcome-recorded"} <= scopes


async def test_bad_tokens_are_refused(kafka: str, sqlite_url: str, tokens: Tokens, keycloak: KeycloakInfo) -> None:
    async with ehc_world(kafka, sqlite_url) as world, httpx.AsyncClient(base_url=world.client.base_url) as raw:
        good = await tokens.token("la-202")
        head, payload, signature = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "==="))
        tampered = base64.urlsafe_b64encode(json.dumps({**claims, "client_id": "la-208"}).encode()).rstrip(b"=")
        admin = await _keycloak_admin(keycloak)
        other_issuer = str(admin.headers["Authorization"]).removeprefix("Bearer ")
        await admin.aclose()
        cases = {
            "another issuer (Keycloak's master realm)": other_issuer,
            "bad signature": f"{head}.{tampered.decode()}.{signature}",
            "alg none": unsigned({**claims, "client_id": "la-208"}),
            "garbage": "not.a.token",
        }
        for name, token in cases.items():
            response = await raw.get("/api/v1/advice-requests", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, name
            assert 'error="invalid_token"' in response.headers["www-authenticate"], name
        basic = await raw.get("/ops/stats", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401
        fine = await raw.get("/api/v1/advice-requests", headers={"Authorization": f"Bearer {good}"})
        assert fine.status_code == 200


async def test_a_key_rotated_at_the_issuer_is_trusted_without_a_restart(
    kafka: str, sqlite_url: str, keycloak: KeycloakInfo, tokens: Tokens
) -> None:
    auth = Settings().auth.model_copy(update={"key_refresh_min_seconds": 0.0})
    async with (
        ehc_world(kafka, sqlite_url, auth=auth) as world,
        httpx.AsyncClient(base_url=world.client.base_url) as raw,
    ):
        before = await tokens.token("la-208")
        assert (await raw.get("/api/v1/advice-requests", headers={"Authorization": f"Bearer {before}"})).is_success
        admin = await _keycloak_admin(keycloak)
        rotated = await admin.post(
            "/admin/realms/ehc-hub/components",
            json={
                "name": "rotated-rsa",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                "config": {"priority": ["500"], "keySize": ["2048"], "algorithm": ["RS256"]},
            },
        )
        await admin.aclose()
        assert rotated.status_code == 201, rotated.text
        fresh = await Tokens(keycloak.issuer).token("la-208")
        assert _kid(fresh) != _kid(before), "Keycloak signs with the new key"
        response = await raw.get("/api/v1/advice-requests", headers={"Authorization": f"Bearer {fresh}"})
        assert response.status_code == 200, response.text


async def _keycloak_admin(keycloak: KeycloakInfo) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=keycloak.url) as client:
        token = (
            await client.post(
                "/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "admin-cli",
                    "username": ADMIN_USER,
                    "password": ADMIN_PASSWORD,
                },
            )
        ).json()["access_token"]
    return httpx.AsyncClient(base_url=keycloak.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _kid(token: str) -> str:
    return str(json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"])


async def test_each_agency_sees_and_changes_only_its_own(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        requests = await _open_case_with_requests(world, "AUTH-1", 41)
        la208, rj1, school2 = world.as_("la-208"), world.as_("nhs-rj1"), world.as_("school-100002")
        async with la208, rj1, school2:
            # An LA of another council: its la_code, or a case it does not own.
            body = {"case_id": "AUTH-1", "la_code": LA, "panel_date": "2026-03-02", "outcome": "issue-plan"}
            assert (await la208.post("/api/v1/panel-outcomes", json=body)).status_code == 403
            body208 = {**body, "la_code": "208"}
            refused = await la208.post("/api/v1/panel-outcomes", json=body208)
            assert refused.status_code == 403 and "belongs to LA 202" in refused.json()["error"]
            exception = {
                "exception_id": "X-1",
                "case_id": "AUTH-1",
                "kind": "absent-from-area",
                "start_date": "2026-02-01",
                "end_date": "2026-03-15",
                "recorded_by": "caseworker",
            }
            assert (await la208.post("/api/v1/case-exceptions", json=exception)).status_code == 403
            # The source of a raw event is the caller's organisation, and nothing else.
            forged = {"type": "panel-outcome-recorded", "source": "/la-sen/208", "data": body}
            response = await world.client.post("/api/v1/events", json=forged, headers={"X-Test-As": "la-202"})
            assert response.status_code == 403 and "source" in response.json()["error"]

            # A school reads only its own inbox, and answers only what was sent to it.
            assert (
                await school2.get("/api/v1/advice-requests", params={"recipient": SCHOOL["code"]})
            ).status_code == 403
            assert (await school2.get("/api/v1/advice-requests")).json() == []
            school_request = requests[SCHOOL["code"]]
            advice = {
                "case_id": "AUTH-1",
                "request_id": school_request["request_id"],
                "advice_kind": school_request["advice_kind"],
                "submitted_date": "2026-03-01",
                "adviser": {"name": "A", "role": "SENCO", "organisation": {"agency": "school", "code": "100002"}},
            }
            refused = await school2.post("/api/v1/advice", json=advice)
            assert refused.status_code == 403 and "was sent to 100001" in refused.json()["error"]
            claiming = await school2.post(
                "/api/v1/advice", json={**advice, "adviser": {**advice["adviser"], "organisation": SCHOOL}}
            )
            assert claiming.status_code == 403, "claiming another school in the adviser field"

            # Provider RJ1 can neither read, search, update nor answer RBS's Task.
            task_id = requests[NHS["code"]]["request_id"]
            fhir = {"content-type": "application/fhir+json"}
            read = await rj1.get(f"/fhir/Task/{task_id}")
            assert read.status_code == 403 and read.json()["resourceType"] == "OperationOutcome"
            assert (await rj1.get("/fhir/Task", params={"owner": NHS["code"]})).status_code == 403
            own = (await rj1.get("/fhir/Task")).json()
            assert own["total"] == 0
            task = {
                "resourceType": "Task",
                "id": task_id,
                "status": "rejected",
                "intent": "order",
                "statusReason": {"text": "x"},
            }
            assert (await rj1.put(f"/fhir/Task/{task_id}", json=task, headers=fhir)).status_code == 403
            from tests.fhir_messages import questionnaire_response_message

            as_rbs = questionnaire_response_message(
                "AUTH-MSG", task_id, requests[NHS["code"]]["request"]["person"]["nhs_number"]
            )
            answered = await rj1.post("/fhir/$process-message", json=as_rbs, headers=fhir)
            assert answered.status_code == 403 and answered.json()["issue"][0]["code"] == "forbidden"

        # Children's social care of one council records assessments for that council only; an EP
        # service reads its own inbox, not a school's.
        async with world.as_("csc-202") as csc, world.as_("ep-202") as ep:
            assessment = {
                "assessment_id": "AUTH-S58",
                "la_code": "208",
                "assessment_type": "s58-childs-needs",
                "assessed_person": request_body("AUTH-1", 41)["person"],
                "status": "completed",
                "completed_date": "2026-03-01",
                "assessor": {"name": "J Smith", "role": "Social worker", "organisation": CSC},
                "eligibility_indication": "likely-eligible",
            }
            refused = await csc.post("/api/v1/social-care/assessments", json=assessment)
            assert refused.status_code == 403 and "208" in refused.json()["error"]
            assert (await ep.get("/api/v1/advice-requests", params={"recipient": SCHOOL["code"]})).status_code == 403
            assert [r["recipient"]["code"] for r in (await ep.get("/api/v1/advice-requests")).json()] == ["202-EPS"]

        # Nothing forged reached the case.
        context = (await world.runtime.store.case_contexts(["AUTH-1"]))["AUTH-1"]
        assert all(r.submission_event_id is None for r in context.advice.values())
        assert not await world.runtime.store.processed_ids(["X-1"])
        assert all(r["source"].startswith("/la-sen/202") for r in await world.runtime.store.recent_events(50))


async def test_writes_declare_their_content_type_and_answers_carry_security_headers(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        body = json.dumps(request_body("CT-1", 42))
        plain = await world.client.post(
            "/api/v1/assessment-requests", content=body, headers={"content-type": "text/plain", "X-Test-As": "la-202"}
        )
        assert plain.status_code == 415 and plain.json()["rule"] == "content-type"
        form = await world.client.post(
            "/fhir/$process-message", content=b"a=b", headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert form.status_code == 415 and form.json()["resourceType"] == "OperationOutcome"

        accepted = await world.post("/api/v1/assessment-requests", json.loads(body))
        await world.wait_applied(accepted["id"])
        trace = await world.client.get("/ops/cases/CT-1/trace")
        assert trace.status_code == 200
        headers = trace.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"

        preflight = await world.client.options(
            "/api/v1/assessment-requests",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers, "CORS is closed unless configured"


async def test_personal_data_is_masked_without_the_permission_and_audited_with_it(kafka: str, sqlite_url: str) -> None:
    async with ehc_world(kafka, sqlite_url) as world:
        body = request_body("PD-1", 43)
        await world.wait_applied((await world.post("/api/v1/assessment-requests", body))["id"])
        nhs_number = body["person"]["nhs_number"]

        seen = (await world.client.get("/ops/cases/PD-1/trace")).json()
        assert nhs_number in json.dumps(seen)

        [audit] = [
            r for r in (await world.runtime.store.snapshot())["ops_audit"] if r["action"] == "read-personal-data"
        ]
        assert audit["actor"] == "client ops-monitor" and audit["detail"]["case_ids"] == ["PD-1"]
        assert audit["detail"]["path"] == "/ops/cases/PD-1/trace"

    # The same read by a client without personal-data:read is masked, and nothing is audited.
    auth = Settings().auth
    blind = auth.model_copy(
        update={
            "clients": {"ops-monitor": auth.clients["ops-monitor"].model_copy(update={"permissions": ["ops:read"]})}
        }
    )
    async with ehc_world(kafka, sqlite_url.replace("hub.db", "hub2.db"), auth=blind) as world:
        await world.wait_applied((await world.post("/api/v1/assessment-requests", body))["id"])
        masked = (await world.client.get("/ops/cases/PD-1/trace")).json()
        assert nhs_number not in json.dumps(masked) and masked["case"]["person"]["pseudonym"].startswith("p:")
        assert not [
            r for r in (await world.runtime.store.snapshot())["ops_audit"] if r["action"] == "read-personal-data"
        ]


async def test_each_client_is_limited_and_told_when_to_come_back(kafka: str, sqlite_url: str) -> None:
    auth = Settings().auth.model_copy(update={"rate_limit_burst": 3, "rate_limit_per_minute": 6})
    async with ehc_world(kafka, sqlite_url, auth=auth) as world:
        school = world.as_("school-100001")
        async with school:
            statuses = [(await school.get("/api/v1/advice-requests")).status_code for _ in range(5)]
            assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429
            limited = await school.get("/api/v1/advice-requests")
            assert int(limited.headers["retry-after"]) >= 1
        # Another client is not held up by the first.
        async with world.as_("school-100002") as other:
            assert (await other.get("/api/v1/advice-requests")).status_code == 200
