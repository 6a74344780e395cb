"""A running hub with stand-in agency systems, for end-to-end journeys over real sockets."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from hub.devtools.kafka_local import free_port
from hub.http.app import create_app
from hub.wiring import HubRuntime, ensure_topics
from tests.helpers import eventually, isolated_settings, person, topic_records
from tests.identity import AsAgency, Tokens
from tests.servers import AgencyEndpoint, serving

LA = "202"
SCHOOL = {"agency": "school", "code": "100001", "name": "Hillside Primary"}
OTHER_SCHOOL = {"agency": "school", "code": "100002", "name": "Brookside Academy"}
EP = {"agency": "educational-psychology", "code": "202-EPS"}
NHS = {"agency": "nhs", "code": "RBS", "name": "Evelina London"}
CSC = {"agency": "childrens-social-care", "code": "202-CSC"}
SCHOOL_SECRET = "whsec_" + base64.b64encode(b"school-signing-key-for-tests-0001").decode()
CSC_SECRET = "whsec_" + base64.b64encode(b"csc-signing-key-for-tests-000001").decode()
OTHER_SCHOOL_SECRET = "whsec_" + base64.b64encode(b"other-school-signing-key-000001").decode()


@dataclass
class World:
    runtime: HubRuntime
    client: httpx.AsyncClient
    kafka: str
    school: AgencyEndpoint
    other_school: AgencyEndpoint
    social_care: AgencyEndpoint
    adult: AgencyEndpoint
    adult_port: int
    tokens: Tokens
    app: Any
    today: list[date] = field(default_factory=lambda: [date(2026, 1, 5)])

    def set_today(self, day: date) -> None:
        self.today[0] = day

    def as_(self, client_id: str) -> httpx.AsyncClient:
        """A client of the hub carrying ``client_id``'s token only."""
        return httpx.AsyncClient(base_url=self.client.base_url, timeout=30, auth=self.tokens.auth(client_id))

    async def post(
        self, path: str, body: dict[str, Any], expect: int = 202, by: str | None = None, **headers: str
    ) -> dict[str, Any]:
        if by is not None:
            headers["X-Test-As"] = by
        response = await self.client.post(path, json=body, headers=headers)
        assert response.status_code == expect, response.text
        return response.json()

    async def wait_applied(self, event_id: str) -> None:
        async def applied() -> bool:
            return bool(await self.runtime.store.processed_ids([event_id]))

        await eventually(applied)

    async def clocks(self, case_id: str) -> dict[str, dict[str, Any]]:
        rows = (await self.client.get(f"/ops/cases/{case_id}/clocks")).json()
        return {r["kind"] if r["kind"] != "advice" else f"advice:{r['advice_kind']}": r for r in rows}

    async def received_by(self, agency: str) -> Counter[str]:
        """Event types an agency's outbound topic carried, each distinct event once."""
        records = await topic_records(self.kafka, self.runtime.names.physical(f"out.{agency}.v1"))
        seen = {json.loads(r.value or b"")["id"]: json.loads(r.value or b"")["type"] for r in records}
        return Counter(t.split(".")[2] for t in seen.values())


@asynccontextmanager
async def ehc_world(kafka: str, database_url: str, **overrides: Any) -> AsyncIterator[World]:
    """A hub with the school, the other school and children's social care on webhooks and the adult
    system on its own API; ``pulling=[code, ...]`` leaves those organisations to read their inbox."""
    school, other_school, social_care, adult = AgencyEndpoint(), AgencyEndpoint(), AgencyEndpoint(), AgencyEndpoint()
    adult_port = free_port()
    async with AsyncExitStack() as stack:
        school_url = await stack.enter_async_context(serving(school.app))
        csc_url = await stack.enter_async_context(serving(social_care.app))
        other_url = await stack.enter_async_context(serving(other_school.app))
        if not overrides.pop("adult_down", False):
            await stack.enter_async_context(serving(adult.app, adult_port))
        dispatch = {
            "webhook_secrets": {
                SCHOOL["code"]: SCHOOL_SECRET,
                CSC["code"]: CSC_SECRET,
                OTHER_SCHOOL["code"]: OTHER_SCHOOL_SECRET,
            },
            "retry_delays_seconds": [0.1],
            **overrides.pop("dispatch", {}),
        }
        values = {
            "webhooks": {
                code: url
                for code, url in (
                    (SCHOOL["code"], f"{school_url}/inbox"),
                    (CSC["code"], f"{csc_url}/inbox"),
                    (OTHER_SCHOOL["code"], f"{other_url}/inbox"),
                )
                if code not in overrides.get("pulling", ())
            },
            "adult_social_care_endpoints": {LA: f"http://127.0.0.1:{adult_port}/inbox"},
            "clock_sweep_seconds": 0,
            **{k: v for k, v in overrides.items() if k != "pulling"},
            "dispatch": dispatch,
        }
        settings = isolated_settings(database_url, **values)
        await ensure_topics(settings, kafka)
        runtime = HubRuntime(settings, kafka)
        world_today = [date(2026, 1, 5)]
        runtime.watcher.today = lambda: world_today[0]
        app = create_app(runtime)
        base = await stack.enter_async_context(serving(app))
        tokens = Tokens(runtime.settings.auth.issuer or "")
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30, auth=AsAgency(tokens)))
        yield World(
            runtime, client, kafka, school, other_school, social_care, adult, adult_port, tokens, app, world_today
        )


def request_body(case_id: str, n: int = 1, received: str = "2026-01-05", year_group: int = 6) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "la_code": LA,
        "requested_by": "parent",
        "received_date": received,
        "year_group": year_group,
        "school": SCHOOL,
        "person": person(n).model_dump(mode="json", exclude_none=True),
    }


def decision_body(case_id: str, day: str = "2026-02-09", advisers: list[dict] | None = None) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "la_code": LA,
        "decision": "assess",
        "decision_date": day,
        "advisers": advisers if advisers is not None else [SCHOOL, EP, NHS, CSC],
    }


def advice_body(case_id: str, request: dict[str, Any], day: str, org: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "request_id": request["request_id"],
        "advice_kind": request["advice_kind"],
        "submitted_date": day,
        "summary": "needs described",
        "adviser": {"name": "A Adviser", "role": "professional", "organisation": org},
        **extra,
    }
