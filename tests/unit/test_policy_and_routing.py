from dataclasses import replace
from datetime import date

from hub.domain.addressing import Directory
from hub.domain.policy import minimise
from hub.domain.state import AdviceRequest, Case
from hub.domain.workflow import evaluate
from hub.pipeline.routing import route
from hub.settings import StatutoryRules
from schemas.common import Agency, OrganisationRef
from schemas.envelope import envelope_for
from schemas.events import PlanRecorded, PlanSections, SharingRestricted
from tests.helpers import assessment_requested, audited_recipients, panel_outcome

SCHOOL = OrganisationRef(agency=Agency.SCHOOL, code="100001")

ASKED = date(2026, 2, 9)
KNOWN_CASE = Case(
    "C-1",
    la_code="202",
    received_date=date(2026, 1, 5),
    school_code="100001",
    advice={
        "H": AdviceRequest("H", "C-1", "health", "nhs", "RBS", ASKED),
        "S": AdviceRequest("S", "C-1", "social-care", "childrens-social-care", "202-CSC", ASKED),
    },
)


def test_minimise_keeps_only_listed_paths() -> None:
    data = {"a": 1, "b": {"x": 1, "y": 2}, "c": 3}
    assert minimise(data, ("a", "b.y")) == {"a": 1, "b": {"y": 2}}
    assert minimise(data, ("*",)) == data
    assert minimise(data, ("missing", "b.missing")) == {}


def test_panel_outcome_is_minimised_per_recipient_and_audited() -> None:
    env = envelope_for(panel_outcome("C-7"), source="/la/202")
    result = route(env, panel_outcome("C-7"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=KNOWN_CASE)
    out = {r.topic: r.envelope.data for r in result.records if r.topic.startswith("out.")}
    assert set(out) == {"out.nhs.v1", "out.childrens-social-care.v1", "out.school.v1"}
    assert "health_summary" in out["out.nhs.v1"] and "social_care_summary" not in out["out.nhs.v1"]
    assert "social_care_summary" in out["out.childrens-social-care.v1"]
    assert "health_summary" not in out["out.school.v1"]
    audits = [r for r in result.records if r.topic == "hub.audit.v2"]
    assert len(audits) == 1, "one audit record for the event, naming its three recipients"
    told = audits[0].envelope.data["disclosures"]
    assert {d["recipient"].split(":")[0] for d in told} == {"nhs", "childrens-social-care", "school"}
    assert all(d["lawful_basis"].startswith("UK GDPR 6(1)(e)") for d in told)
    assert audits[0].envelope.data["source_event_id"] == env.id and audits[0].key == "C-7"


def test_plan_sections_reach_only_the_agencies_that_need_them() -> None:
    plan = PlanRecorded(
        case_id="C-1",
        la_code="202",
        kind="issued",
        event_date=date(2026, 5, 1),
        sections=PlanSections(b="needs", c="health", d="care", g="therapy", h1="csdpa", h2="other"),
    )
    env = envelope_for(plan, source="/la/202")
    out = {
        r.topic: r.envelope.data
        for r in route(env, plan, topic="ehc.plans.v1", hub_source="/hub", context=KNOWN_CASE).records
    }
    assert out["out.nhs.v1"]["sections"] == {"c": "health", "g": "therapy"}
    assert out["out.childrens-social-care.v1"]["sections"] == {"d": "care", "h1": "csdpa", "h2": "other"}


def test_routing_is_deterministic() -> None:
    """Redelivery must produce the same outbound ids, so consumers can dedupe."""
    env = envelope_for(panel_outcome("C-1"), source="/la/202")
    first = route(env, panel_outcome("C-1"), topic="t", hub_source="/hub", context=KNOWN_CASE)
    second = route(env, panel_outcome("C-1"), topic="t", hub_source="/hub", context=KNOWN_CASE)
    assert [r.envelope.id for r in first.records] == [r.envelope.id for r in second.records]
    assert all(r.envelope.causationid == env.id for r in first.records)
    assert all(r.envelope.correlationid == env.correlationid for r in first.records)


def test_an_assessment_request_is_notified_under_reg_4_2_with_only_what_identifies_the_child() -> None:
    requested = assessment_requested("C-2").model_copy(update={"school": SCHOOL})
    env = envelope_for(requested, source="/la/202")
    icb = Directory({"202": "QMJ"})
    result = route(env, requested, topic="ehc.assessment-requests.v1", hub_source="/hub", directory=icb)
    out = {r.topic: r.envelope.data for r in result.records if r.topic.startswith("out.")}
    assert set(out) == {"out.health-commissioner.v1", "out.childrens-social-care.v1", "out.school.v1"}
    assert out["out.health-commissioner.v1"]["person"] == {"nhs_number": env.data["person"]["nhs_number"]}
    audited = audited_recipients(result.records)
    assert audited == {"health-commissioner:QMJ", "childrens-social-care:202", "school:100001"}
    for data in out.values():
        assert {"case_id", "la_code", "received_date"} <= set(data)
        assert not {"given_name", "family_name", "date_of_birth"} & set(data.get("person", {})), (
            "no more than identifies"
        )
    assert result.effect.case_id == "C-2" and result.effect.received_date is not None


def test_every_outbound_record_is_a_valid_envelope_that_decodes_to_its_event() -> None:
    """The router builds envelopes without validating them; each must still pass the contract."""
    from schemas.envelope import decode, encode

    env = envelope_for(panel_outcome("C-8"), source="/la/202")
    result = route(env, panel_outcome("C-8"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=KNOWN_CASE)
    audits = [r for r in result.records if r.topic == "hub.audit.v2"]
    assert audits and all(a.envelope.id == a.envelope.data["audit_id"] for a in audits)
    for record in result.records:
        decoded, _ = decode(encode(record.envelope))
        assert decoded == record.envelope
        assert decoded.source == "/hub" and decoded.causationid == env.id


def test_routing_for_a_rebuild_gives_the_same_effect_without_records() -> None:
    env = envelope_for(panel_outcome("C-9"), source="/la/202")
    live = route(env, panel_outcome("C-9"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=KNOWN_CASE)
    rebuilt = route(
        env,
        panel_outcome("C-9"),
        topic="ehc.panel-outcomes.v1",
        hub_source="/hub",
        context=KNOWN_CASE,
        with_records=False,
    )
    assert rebuilt.records == [] and len(live.records) == 4, "three copies and their audit"
    assert rebuilt.effect == live.effect


def test_each_disclosure_goes_to_the_organisation_the_case_names_or_is_withheld() -> None:
    env = envelope_for(panel_outcome("C-1"), source="/la/202")
    result = route(env, panel_outcome("C-1"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=KNOWN_CASE)
    audited = audited_recipients(result.records)
    assert audited == {"nhs:RBS", "childrens-social-care:202-CSC", "school:100001"}
    orgs = {r.topic: dict(r.headers).get("hub-recipient-org") for r in result.records if r.topic.startswith("out.")}
    assert orgs == {"out.nhs.v1": b"RBS", "out.childrens-social-care.v1": b"202-CSC", "out.school.v1": b"100001"}
    unnamed = Case("C-1", la_code="202", received_date=date(2026, 1, 5))
    withheld = route(env, panel_outcome("C-1"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=unnamed)
    assert {r.topic for r in withheld.records if r.topic.startswith("out.")} == {
        "out.childrens-social-care.v1",
        "out.la-sen.v1",
    }
    alerts = [r.envelope.data for r in withheld.records if r.topic == "hub.alerts.v1"]
    assert sorted(a["message"].split(" with ")[1].split(":")[0] for a in alerts) == ["nhs", "school"]
    assert all(a["kind"] == "recipient-not-named" and a["organisation"]["code"] == "202" for a in alerts)
    told = [r for r in withheld.records if r.topic == "out.la-sen.v1"]
    assert [r.envelope.data for r in told] == alerts, "the LA's SEN system hears what it must fix"
    assert all(dict(r.headers) == {"hub-recipient": b"la-sen", "hub-recipient-org": b"202"} for r in told)
    icb = route(
        env,
        panel_outcome("C-1"),
        topic="ehc.panel-outcomes.v1",
        hub_source="/hub",
        context=unnamed,
        directory=Directory({"202": "QMJ"}),
    )
    audited = audited_recipients(icb.records)
    assert audited == {"nhs:QMJ", "childrens-social-care:202"}, "no provider asked: the commissioning body"


def test_an_objection_to_sharing_withholds_later_disclosures_to_those_organisations() -> None:
    objected = replace(KNOWN_CASE, withheld_from=frozenset({"school"}))
    env = envelope_for(panel_outcome("C-1"), source="/la/202")
    result = route(env, panel_outcome("C-1"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=objected)
    assert {r.topic for r in result.records if r.topic.startswith("out.")} == {
        "out.nhs.v1",
        "out.childrens-social-care.v1",
    }
    assert not [r for r in result.records if r.topic == "hub.alerts.v1"], "withheld on purpose, not unaddressed"
    restriction = SharingRestricted(
        restriction_id="R1",
        case_id="C-1",
        la_code="202",
        withheld_from=[Agency.SCHOOL, Agency.NHS],
        reason="parent objects",
        recorded_date=date(2026, 3, 1),
        recorded_by="SEN officer",
    )
    outcome = evaluate(restriction, objected, StatutoryRules(), event_id="r1")
    assert outcome.case is not None and outcome.case.withheld_from == {"school", "nhs"}, "restrictions add up"


def test_outbound_records_are_written_as_the_envelope_model_writes_them() -> None:
    """Copies, audits and derived events are built as JSON documents, not models: every byte, the
    key order and the time's format included, must be what the contract's models would write."""
    from schemas.envelope import Envelope, decode, encode
    from schemas.events import EVENTS_BY_TYPE, RecordDisclosed, RecordDisclosedV2

    requested = assessment_requested("C-9")
    env = envelope_for(requested, source="/la/202", causation_id=None)
    result = route(env, requested, topic="ehc.assessment-requests.v1", hub_source="/hub")
    outcome = envelope_for(panel_outcome("C-1"), source="/la/202")
    result2 = route(
        outcome,
        panel_outcome("C-1"),
        topic="ehc.panel-outcomes.v1",
        hub_source="/hub",
        context=KNOWN_CASE,
        audit_v1=True,
    )
    records = result.records + result2.records
    assert {r.topic for r in records} >= {"hub.audit.v1", "hub.audit.v2", "out.nhs.v1", "hub.alerts.v1"}
    for r in records:
        model = Envelope.model_validate(r.document)
        assert r.value() == encode(model), r.topic
        assert model.time == env.time or model.time == outcome.time
        if r.topic.startswith("hub.audit."):
            contract = RecordDisclosed if r.topic == "hub.audit.v1" else RecordDisclosedV2
            assert model.type == contract.cloudevent_type()
            assert contract.model_validate(model.data).key() == model.subject == r.key
        elif not r.topic.startswith("out."):
            decode(r.value())  # a derived canonical event is a whole, valid event
            assert model.type in {m.cloudevent_type() for m in EVENTS_BY_TYPE.values()}


def test_version_1_of_the_audit_is_written_beside_version_2_only_when_asked_for() -> None:
    env = envelope_for(panel_outcome("C-3"), source="/la/202")
    args = {"topic": "ehc.panel-outcomes.v1", "hub_source": "/hub", "context": KNOWN_CASE}
    plain = route(env, panel_outcome("C-3"), **args)
    both = route(env, panel_outcome("C-3"), **args, audit_v1=True)
    assert not [r for r in plain.records if r.topic == "hub.audit.v1"]
    v1 = [r.envelope.data for r in both.records if r.topic == "hub.audit.v1"]
    assert len(v1) == 3 and len({a["audit_id"] for a in v1}) == 3, "a record, and an id, per recipient"
    v2 = [r.envelope.data for r in both.records if r.topic == "hub.audit.v2"]
    assert [r.envelope.data for r in plain.records if r.topic == "hub.audit.v2"] == v2
    assert sorted((a["recipient"], a["fields"], a["lawful_basis"]) for a in v1) == sorted(
        (d["recipient"], d["fields"], d["lawful_basis"]) for d in v2[0]["disclosures"]
    ), "the two versions record the same disclosures"
