"""Crypto-shredding against the real broker: a young person's details leave the hub sealed,
reach the adult service opened, and after an erasure cannot be read from any topic or from the
store, while everyone else's still can; a rebuild then gives the store the erasure left."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from hub.auth.registry import ClientRegistry
from hub.domain.addressing import Directory
from hub.pipeline.records import H_FIELD, H_RULE
from hub.privacy.service import Privacy
from hub.settings import Settings
from hub.store import Store
from hub.store.tables import dispatches, erasures, kept, metadata, ops_audit
from hub.topics import DLQ_TOPIC, catalogue
from tests.helpers import eventually, person, topic_records
from tests.integration.ehc_world import CSC, LA, World, ehc_world, request_body
from tests.integration.test_transitions import (
    REFERRAL_DAY,
    determine_need,
    give_ehc_plan,
    record_assessment,
    referrals_received,
    someone,
)

pytestmark = pytest.mark.kafka

COMPARED = (
    "cases",
    "person_links",
    "care_assessments",
    "circumstance_changes",
    "transition_determinations",
    "referrals",
    "assessment_decisions",
    "advice_requests",
    "deliveries",
)
"""What a rebuild must give as the live store holds it after the erasure."""


def secrets_of(person: dict[str, Any]) -> list[bytes]:
    return [person[k].encode() for k in ("nhs_number", "given_name", "date_of_birth")]


async def raw_topics(world: World) -> list[bytes]:
    """Every record on every topic of the hub, as the broker holds its bytes."""
    raw = []
    for spec in catalogue(len(world.runtime.settings.retry_delays_seconds)):
        for r in await topic_records(world.kafka, world.runtime.names.physical(spec.name)):
            raw.append(
                spec.name.encode() + (r.key or b"") + (r.value or b"") + b"".join(k.encode() + v for k, v in r.headers)
            )
    return raw


async def store_dump(store: Store) -> str:
    tables = [*metadata.sorted_tables, *(t for t in kept.sorted_tables if t.name != "data_keys")]
    return json.dumps({t.name: await store.db.rows(select(t)) for t in tables}, default=repr)


async def snapshot(store: Store) -> dict[str, list[str]]:
    by_table = {t.name: t for t in metadata.sorted_tables}
    out = {}
    for name in COMPARED:
        rows = await store.db.rows(select(by_table[name]))
        out[name] = sorted(json.dumps(r, default=str, sort_keys=True) for r in rows)
    return out


async def test_an_erased_young_person_is_unreadable_everywhere_others_are_not_and_a_rebuild_agrees(
    kafka: str, store_url: str
) -> None:
    async with ehc_world(kafka, store_url) as world:  # personal data sealed, as by default
        sealing = world.runtime.privacy
        assert sealing is not None
        yp, other = someone(151, "2008-12-10", "Zainab"), someone(351, "2009-01-02", "Bartholomew")
        carer = someone(251, "1979-05-06", "Oluwaseun")
        await give_ehc_plan(world, "ER-1", yp)
        await give_ehc_plan(world, "ER-2", other)
        await record_assessment(world, "S60-ER", "s60-childs-carers", carer, "2026-04-15", cared_for=[yp])
        await determine_need(world, "D-ER", yp)
        [referral] = await referrals_received(world, 1)

        opened_for_recipient = json.dumps(referral)
        assert yp["nhs_number"] in opened_for_recipient, "the adult service gets the referral opened"
        before = await raw_topics(world)
        for person in (yp, other, carer):
            for secret in secrets_of(person):
                assert not [r for r in before if secret in r], f"{secret!r} travels sealed"
        assert yp["nhs_number"] in await store_dump(world.runtime.store), "the store holds the projection"

        async with world.as_("la-202") as council:
            ask = {"identifier_type": "nhs_number", "identifier": yp["nhs_number"], "reason": "subject-request"}
            assert (await council.post("/ops/erasure", json=ask)).status_code == 403
        answer = await world.client.post("/ops/erasure", json=ask)
        assert answer.status_code == 200, answer.text
        erasure = answer.json()
        assert erasure["keys_destroyed"] >= 3 and erasure["rows_redacted"] >= 4
        again = await world.client.post("/ops/erasure", json=ask)
        assert again.status_code == 404

        after = await raw_topics(world)
        dump = await store_dump(world.runtime.store)
        for secret in secrets_of(yp):
            assert not any(secret in r for r in after)
            at = dump.find(secret.decode())
            assert at < 0, f"{secret!r} is still in the store: {dump[max(0, at - 300) : at + 50]}"
        assert other["nhs_number"] in dump and carer["nhs_number"] in dump, "no one else was erased"

        docs = [
            json.loads(r.value or b"") for r in await topic_records(kafka, _topic(world, "ehc.assessment-requests.v1"))
        ]
        opened = {d["data"]["case_id"]: o for d, o in zip(docs, await sealing.open(docs), strict=True)}
        assert opened["ER-1"][1] and opened["ER-1"][0]["data"]["person"] == {"la_code": "202", "erased": True}
        assert not opened["ER-2"][1] and opened["ER-2"][0]["data"]["person"]["given_name"] == "Bartholomew"

        [logged] = await world.runtime.store.db.rows(select(erasures))
        assert logged["subject"] == erasure["subject"] and logged["reason"] == "subject-request"
        audits = await world.runtime.store.db.rows(select(ops_audit).where(ops_audit.c.action == "erasure"))
        assert [a["audit_id"] for a in audits] == [answer.headers["x-audit-id"]]
        assert yp["nhs_number"] not in json.dumps([logged, audits], default=str)
        live = await snapshot(world.runtime.store)
        settings = world.runtime.settings

    store = Store(store_url)
    try:
        from hub.ops.rebuild import rebuild

        await rebuild(
            store,
            kafka,
            world.runtime.names,
            settings.source_uri,
            settings.rules,
            Directory(settings.health_commissioners),
            privacy=Privacy.configured(settings.privacy, store.db),
        )
        rebuilt = await snapshot(store)
        differ = {name: (live[name], rebuilt[name]) for name in COMPARED if live[name] != rebuilt[name]}
        for name, (a, b) in differ.items():
            print("TABLE", name)
            for x in sorted(set(a) - set(b)):
                print("  LIVE   ", x)
            for x in sorted(set(b) - set(a)):
                print("  REBUILT", x)
        assert differ == {}
        assert len(await store.db.rows(select(erasures))) == 1, "the erasure log outlives a rebuild"
    finally:
        await store.close()


async def test_a_system_reading_its_own_topic_opens_what_was_disclosed_to_it_and_nothing_else(
    kafka: str, store_url: str
) -> None:
    async with ehc_world(kafka, store_url, dispatch={"kafka_native": [CSC["agency"]]}) as world:
        child = person(71)
        sent = await world.post("/api/v1/assessment-requests", request_body("KN-1", 71))
        await world.wait_applied(sent["id"])
        records = await topic_records(kafka, _topic(world, "out.childrens-social-care.v1"))
        read = [json.loads(r.value or b"") for r in records]
        [copy] = [d for d in read if d["data"]["case_id"] == "KN-1"]
        assert str(child.la_person_id) not in json.dumps(copy["data"]) and copy["dataschema"].endswith(":sealed")
        assert copy["data"]["person"] == {"la_code": "202"}, "as the topic holds it: sealed"

        async def opened_by(client_id: str) -> dict[str, Any]:
            async with world.as_(client_id) as system:
                answer = await system.post("/api/v1/inbox/open", json={"records": [copy]})
            assert answer.status_code == 200, answer.text
            [item] = answer.json()["records"]
            assert item["id"] == copy["id"]
            return dict(item)

        mine = await opened_by("csc-202")
        assert not mine["erased"] and mine["event"]["data"]["person"]["la_person_id"] == child.la_person_id
        assert mine["event"]["dataschema"] == "urn:ehc-hub:schema:assessment-requested:v1"
        assert "nhs_number" not in mine["event"]["data"]["person"], "no more than was disclosed to it"
        assert (await opened_by("school-100001"))["event"] is None, "disclosed to children's services only"

        ask = {"identifier_type": "nhs_number", "identifier": child.nhs_number, "reason": "subject-request"}
        assert (await world.client.post("/ops/erasure", json=ask)).status_code == 200
        gone = await opened_by("csc-202")
        assert gone["erased"] and gone["event"]["data"]["person"] == {"la_code": "202", "erased": True}


async def test_a_record_waiting_for_a_person_since_erased_is_dead_lettered_not_sent(
    kafka: str, sqlite_url: str
) -> None:
    async with ehc_world(kafka, sqlite_url, adult_down=True) as world:
        yp = someone(161, "2008-12-10", "Ngozi")
        await give_ehc_plan(world, "EW-1", yp)
        await determine_need(world, "D-EW", yp)
        world.set_today(REFERRAL_DAY)
        await world.runtime.watcher.sweep()
        adult = dispatches.c.recipient.startswith("adult-social-care")

        async def referral_waits() -> bool:
            rows = await world.runtime.store.db.rows(select(dispatches).where(adult, dispatches.c.status == "pending"))
            return any(r["event_type"] == "transition-referral-issued" for r in rows)

        await eventually(referral_waits)
        ask = {"identifier_type": "nhs_number", "identifier": yp["nhs_number"], "reason": "subject-request"}
        assert (await world.client.post("/ops/erasure", json=ask)).status_code == 200

        async def dead_lettered() -> list[Any]:
            return [
                r for r in await topic_records(kafka, _topic(world, DLQ_TOPIC)) if r.header(H_RULE) == "person-erased"
            ]

        async def any_dead_lettered() -> bool:
            return bool(await dead_lettered())

        await eventually(any_dead_lettered)
        letters = await dead_lettered()
        assert {r.header(H_FIELD) for r in letters} == {f"adult-social-care:{LA}"}, "the recipient is named"
        for secret in secrets_of(yp):
            assert not any(secret in (r.value or b"") for r in letters), "dead-lettered sealed, as it was"
        rows = await world.runtime.store.db.rows(select(dispatches).where(adult))
        assert {r["status"] for r in rows if r["event_type"] == "transition-referral-issued"} == {"dead"}
        assert world.adult.received == [], "nothing was sent"


PRIVACY_ROUTES = (
    ("POST", "/ops/erasure", {"identifier_type": "nhs_number", "identifier": "9434765919", "reason": "other"}),
    ("POST", "/ops/legal-holds", {"case_id": "C-1", "reason": "tribunal"}),
    ("GET", "/ops/legal-holds", None),
    ("DELETE", "/ops/legal-holds/H-1", None),
    ("GET", "/ops/retention", None),
    ("POST", "/ops/retention/sweep", None),
)


async def test_a_system_acting_for_one_organisation_is_refused_every_privacy_route_whatever_it_holds(
    kafka: str, sqlite_url: str
) -> None:
    auth = Settings().auth
    council = ClientRegistry.from_settings(auth).clients["la-202"]
    granted = council.model_copy(
        update={"permissions": [*council.permissions, "ops:read", "personal-data:erase", "legal-holds:manage"]}
    )
    async with ehc_world(
        kafka, sqlite_url, auth=auth.model_copy(update={"clients": {**auth.clients, "la-202": granted}})
    ) as world:
        async with world.as_("la-202") as system:
            for method, path, body in PRIVACY_ROUTES:
                answer = await system.request(method, path, json=body)
                assert answer.status_code == 403, (path, answer.text)
                assert "acts for one organisation" in answer.text, path
        assert (await world.client.get("/ops/legal-holds")).status_code == 200, "the operator's tools are not"


def _topic(world: World, logical: str) -> str:
    return world.runtime.names.physical(logical)


async def test_retention_erases_people_past_their_schedule_except_those_under_legal_hold(
    kafka: str, store_url: str
) -> None:
    async with ehc_world(kafka, store_url) as world:  # personal data sealed, as by default
        sealing = world.runtime.privacy
        assert sealing is not None
        old, held, young = (
            someone(161, "2008-12-10", "Perpetua"),
            someone(162, "2008-11-01", "Quentin"),
            someone(163, "2012-02-02", "Rosalind"),
        )
        for case_id, person in (("RT-1", old), ("RT-2", held), ("RT-3", young)):
            await give_ehc_plan(world, case_id, person)
        hold = await world.client.post("/ops/legal-holds", json={"case_id": "RT-2", "reason": "tribunal claim"})
        assert hold.status_code == 201, hold.text
        assert hold.json()["placed_by"] and "person_key" not in hold.json()
        listed = await world.client.get("/ops/legal-holds")
        assert [h["hold_id"] for h in listed.json()] == [hold.json()["hold_id"]]

        world.set_today(date(2040, 1, 1))  # past date of birth + 31 for the first two, not the third
        report = (await world.client.get("/ops/retention")).json()
        assert len(report["due"]) == 2 and report["held"] == 1 and report["erased"] == 0
        assert all(yp["nhs_number"] not in json.dumps(report) for yp in (old, held, young))

        manual = await world.client.post(
            "/ops/erasure", json={"identifier_type": "nhs_number", "identifier": held["nhs_number"], "reason": "other"}
        )
        assert manual.status_code == 409 and "tribunal claim" in manual.text

        swept = await world.client.post("/ops/retention/sweep")
        assert swept.status_code == 200, swept.text
        assert swept.json()["erased"] == 1 and swept.json()["held"] == 1
        dump = await store_dump(world.runtime.store)
        assert old["nhs_number"] not in dump and "Perpetua" not in dump
        assert held["nhs_number"] in dump and young["nhs_number"] in dump

        docs = [
            json.loads(r.value or b"") for r in await topic_records(kafka, _topic(world, "ehc.assessment-requests.v1"))
        ]
        erased = {d["data"]["case_id"]: e for d, (_, e) in zip(docs, await sealing.open(docs), strict=True)}
        assert erased == {"RT-1": True, "RT-2": False, "RT-3": False}
        [logged] = await world.runtime.store.db.rows(select(erasures))
        assert logged["reason"] == "retention"

        released = await world.client.delete(f"/ops/legal-holds/{hold.json()['hold_id']}")
        assert released.status_code == 200
        again = (await world.client.post("/ops/retention/sweep")).json()
        assert again["erased"] == 1 and again["held"] == 0
        assert held["nhs_number"] not in await store_dump(world.runtime.store)
