"""Subject access exports built from plain store rows: what the person gets, what is redacted
about others, and what the audit keeps (hub.ops.subject_access, hub.ops.subject_access_report)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import inspect

from hub.ops.subject_access import REDACTED, IdentifierRefused, audit_record, build_export, subject_identifier
from hub.ops.subject_access_report import render_html
from hub.store import Store
from tests.helpers import nhs_number

YP = {"nhs_number": nhs_number(1), "given_name": "Maya", "family_name": "Test", "date_of_birth": "2008-12-10"}
CARER = {"nhs_number": nhs_number(2), "given_name": "Grace", "family_name": "Test", "date_of_birth": "1980-02-02"}
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def holdings() -> dict[str, Any]:
    disclosure = {
        "delivery_id": "D-1",
        "source_event_id": "E-1",
        "case_id": "C-1",
        "recipient": "adult-social-care",
        "organisation": "202",
        "topic": "out.adult-social-care.v1",
        "event_type": "ehc.transition-referral-issued.v1",
        "fields": ["*"],
        "lawful_basis": "UK GDPR 6(1)(e); Care Act 2014 s58",
        "occurred_at": datetime(2026, 9, 15, 8, 0, tzinfo=UTC),
    }
    return {
        "identifiers": [{"id_type": "nhs_number", "id_value": YP["nhs_number"]}],
        "cases": [
            {
                "case": {"case_id": "C-1", "la_code": "202", "person": YP, "person_key": "pk-yp"},
                "advice_requests": [],
            }
        ],
        "events": [{"event_id": "E-1", "event_type": "ehc.transition-referral-issued.v1", "case_id": "C-1"}],
        "disclosures": [disclosure, {**disclosure, "delivery_id": "D-2", "lawful_basis": None}],
        "dispatches": [{"dispatch_id": "D-1", "channel": "adult-social-care", "status": "delivered"}],
        "care_assessments": [
            {
                "assessment_id": "S60-1",
                "assessed_key": "pk-carer",
                "assessed_person": CARER,
                "cared_for_keys": ["pk-yp"],
                "cared_for": [YP],
                "eligibility": "likely-eligible",
                "completed_date": date(2026, 4, 15),
            }
        ],
        "circumstance_changes": [],
        "transition_determinations": [],
        "referrals": [
            {
                "referral_id": "R-1",
                "person_key": "pk-yp",
                "offered": [{"assessment_id": "S60-1", "assessed_person": CARER, "eligibility_indication": "likely"}],
            }
        ],
        "assessment_decisions": [],
    }


def export(third_parties: str = "redacted") -> dict[str, Any]:
    subject = ("nhs_number", YP["nhs_number"])
    return build_export(holdings(), subject, actor="Dana", third_parties=third_parties, now=NOW)  # type: ignore[arg-type]


def test_the_person_gets_their_own_details_and_every_disclosure_with_its_lawful_basis() -> None:
    doc = export()
    text = json.dumps(doc, default=str)
    assert doc["found"] and doc["subject"]["as_recorded"] == [YP]
    assert [d["delivery_id"] for d in doc["disclosures"]] == ["D-1", "D-2"]
    first, second = doc["disclosures"]
    assert (first["recipient"], first["lawful_basis"]) == (
        "adult-social-care:202",
        "UK GDPR 6(1)(e); Care Act 2014 s58",
    )
    assert first["delivery"]["status"] == "delivered" and second["delivery"] is None
    assert second["lawful_basis"].startswith("not recorded")
    assert doc["counts"] == {"cases": 1, "events": 1, "disclosures": 2, "care_assessments": 1, "redactions": 4}
    assert YP["nhs_number"] in text and "Maya" in text
    assert "pk-yp" not in text and "pk-carer" not in text, "internal person keys are hashes of identifiers"


def test_a_carer_in_the_young_persons_file_is_redacted_with_the_findings_about_them() -> None:
    doc = export()
    text = json.dumps(doc, default=str)
    for value in (CARER["nhs_number"], "Grace", CARER["date_of_birth"], "likely-eligible"):
        assert value not in text
    [assessment] = doc["care_assessments"]
    assert assessment["assessed_person"] == REDACTED and assessment["eligibility"] == REDACTED
    assert assessment["cared_for"] == [YP], "the young person stays in the carer's assessment of them"
    [offer] = doc["transition"]["referrals"][0]["offered"]
    assert offer == {"assessment_id": "S60-1", "assessed_person": REDACTED, "eligibility_indication": REDACTED}


def test_a_review_before_release_shows_third_parties() -> None:
    doc = export("shown")
    assert doc["care_assessments"][0]["assessed_person"] == CARER
    assert doc["counts"]["redactions"] == 0


def test_a_carer_asking_gets_their_own_assessment_without_the_people_they_care_for() -> None:
    rows = holdings()
    rows["identifiers"] = [{"id_type": "nhs_number", "id_value": CARER["nhs_number"]}]
    rows["cases"], rows["referrals"], rows["events"], rows["disclosures"] = [], [], [], []
    doc = build_export(rows, ("nhs_number", CARER["nhs_number"]), actor="D", third_parties="redacted", now=NOW)
    [assessment] = doc["care_assessments"]
    assert assessment["assessed_person"] == CARER and assessment["eligibility"] == "likely-eligible"
    assert assessment["cared_for"] == [REDACTED]


def test_nobody_found_is_an_answer_too() -> None:
    doc = build_export(None, ("upn", "H801200001001"), actor="D", third_parties="redacted", now=NOW)
    assert doc["found"] is False and "cases" not in doc
    assert "holds no records" in render_html(doc)


def test_the_audit_names_the_cases_and_counts_but_no_personal_data() -> None:
    doc = export()
    audit = audit_record(doc, ("nhs_number", YP["nhs_number"]), "Dana <sub-1>")
    text = json.dumps(audit, default=str)
    assert audit["action"] == "subject-access-export" and audit["detail"]["case_ids"] == ["C-1"]
    assert audit["detail"]["pseudonym"].startswith("p:") and audit["detail"]["counts"]["disclosures"] == 2
    for value in (YP["nhs_number"], "Maya", YP["date_of_birth"], CARER["nhs_number"]):
        assert value not in text


def test_identifiers_are_checked_as_every_record_checks_them() -> None:
    assert subject_identifier("nhs_number", YP["nhs_number"]) == ("nhs_number", YP["nhs_number"])
    assert subject_identifier("la_person_id", "P1", "202") == ("la_person_id:202", "P1")
    with pytest.raises(IdentifierRefused, match="Modulus 11"):
        subject_identifier("nhs_number", "9434765918")
    with pytest.raises(IdentifierRefused, match="la_code"):
        subject_identifier("la_person_id", "P1")


def test_the_printable_page_escapes_what_agencies_typed_and_marks_redactions() -> None:
    rows = holdings()
    rows["cases"][0]["case"]["person"] = {**YP, "family_name": "<script>alert(1)</script>"}
    rows["identifiers"].append({"id_type": "upn", "id_value": "H801200001001"})
    page = render_html(build_export(rows, ("upn", "H801200001001"), actor="D", third_parties="redacted", now=NOW))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "class='redacted'" in page and "Grace" not in page
    assert "adult-social-care:202" in page and "Care Act 2014 s58" in page


async def test_a_store_made_by_an_older_hub_gains_the_new_columns(store_url: str) -> None:
    store = Store(store_url)
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE deliveries (delivery_id VARCHAR(128) PRIMARY KEY, source_event_id VARCHAR(128) NOT NULL,"
            " case_id VARCHAR(128), recipient VARCHAR(64) NOT NULL, topic VARCHAR(255) NOT NULL,"
            " event_type VARCHAR(255) NOT NULL, fields JSON NOT NULL)"
        )
        await conn.exec_driver_sql(
            "INSERT INTO deliveries VALUES ('D-0', 'E-0', 'C-0', 'nhs', 'out.nhs.v1', 't', '[]')"
        )
        await conn.exec_driver_sql(
            "CREATE TABLE processed_events (event_id VARCHAR(128) PRIMARY KEY, topic VARCHAR(255) NOT NULL,"
            " event_type VARCHAR(255) NOT NULL, case_id VARCHAR(128), correlation_id VARCHAR(128),"
            " causation_id VARCHAR(128), occurred_at TIMESTAMP NOT NULL, source VARCHAR(255) NOT NULL,"
            " redrive_lineage TEXT)"
        )
    try:
        await store.create_schema()
        await store.create_schema()  # a second start finds them there
        async with store.engine.connect() as conn:
            columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("deliveries")})
            indexed = await conn.run_sync(
                lambda c: [i["column_names"] for i in inspect(c).get_indexes("processed_events")]
            )
            kept = (await conn.exec_driver_sql("SELECT delivery_id, lawful_basis FROM deliveries")).all()
    finally:
        await store.close()
    assert {"organisation", "lawful_basis"} <= columns
    assert ["record_key"] in indexed, "a column the subject access export looks up by is indexed too"
    assert [tuple(r) for r in kept] == [("D-0", None)]
