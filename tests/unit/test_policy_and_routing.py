from hub.domain.policy import minimise
from hub.domain.state import Case
from hub.pipeline.routing import route
from schemas.envelope import envelope_for
from schemas.events import PlanRecorded, PlanSections
from tests.helpers import assessment_requested, panel_outcome

KNOWN_CASE = Case("C-1", received_date=__import__("datetime").date(2026, 1, 5))


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
    audits = [r for r in result.records if r.topic == "hub.audit.v1"]
    assert len(audits) == 3
    assert {a.envelope.data["recipient"] for a in audits} == {"nhs", "childrens-social-care", "school"}
    assert all(a.envelope.data["lawful_basis"].startswith("UK GDPR 6(1)(e)") for a in audits)


def test_plan_sections_reach_only_the_agencies_that_need_them() -> None:
    plan = PlanRecorded(
        case_id="C-1",
        la_code="202",
        kind="issued",
        event_date=__import__("datetime").date(2026, 5, 1),
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


def test_assessment_request_is_not_shared_but_opens_the_case() -> None:
    env = envelope_for(assessment_requested("C-2"), source="/la/202")
    result = route(env, assessment_requested("C-2"), topic="ehc.assessment-requests.v1", hub_source="/hub")
    assert result.records == []
    assert result.effect.case_id == "C-2" and result.effect.received_date is not None


def test_every_outbound_record_is_a_valid_envelope_that_decodes_to_its_event() -> None:
    """The router builds envelopes without validating them; each must still pass the contract."""
    from schemas.envelope import decode, encode

    env = envelope_for(panel_outcome("C-8"), source="/la/202")
    result = route(env, panel_outcome("C-8"), topic="ehc.panel-outcomes.v1", hub_source="/hub", context=KNOWN_CASE)
    audits = [r for r in result.records if r.topic == "hub.audit.v1"]
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
    assert rebuilt.records == [] and len(live.records) == 6
    assert rebuilt.effect == live.effect
