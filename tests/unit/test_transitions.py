"""Transition rules with plain data: currency, changes, who is offered, what the adult system sees."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from adapters.adult_social_care.mapping import referral_out
from hub.domain.facts import Outcome
from hub.domain.planner import consideration_alerts, continuity_alerts, plan_referrals
from hub.domain.state import (
    CareAssessment,
    Case,
    CircumstanceChange,
    Referral,
    TransitionDetermination,
    TransitionSources,
)
from hub.domain.transitions import eighteenth_birthday, first_day_over, months_between, recommend, recommendation_on
from hub.domain.workflow import evaluate
from hub.settings import StatutoryRules, TransitionRules
from schemas.common import Adviser, PersonRef
from schemas.events import (
    AlertRaised,
    OfferedAssessment,
    PlanSections,
    ReuseRecommendation,
    TreatAsAdultAssessmentDecision,
)

RULES = TransitionRules()
ASSESSOR = Adviser.model_validate(
    {"name": "J Smith", "role": "Social worker", "organisation": {"agency": "childrens-social-care", "code": "202"}}
)


def person(key: str, dob: str | None = "2008-12-10") -> PersonRef:
    return PersonRef(
        la_person_id=key, la_code="202", given_name=key, date_of_birth=date.fromisoformat(dob) if dob else None
    )


def assessment(
    aid: str, kind: str, assessed: str, completed: date, cared_for: tuple[str, ...] = (), status: str = "completed"
) -> CareAssessment:
    return CareAssessment(
        assessment_id=aid,
        la_code="202",
        assessment_type=kind,
        assessed_key=assessed,
        assessed_person=person(assessed, "1980-01-01" if kind == "s60-childs-carers" else "2008-12-10"),
        cared_for_keys=cared_for,
        cared_for=(),
        status=status,
        completed_date=completed,
        assessor=ASSESSOR,
        eligibility="likely-eligible",
    )


def sources(
    assessments: list[CareAssessment], changes: list[CircumstanceChange] | None = None, cases: list[Case] | None = None
) -> TransitionSources:
    return TransitionSources(cases=tuple(cases or ()), assessments=tuple(assessments), changes=tuple(changes or ()))


def test_currency_and_change_drive_the_recommendation() -> None:
    today = date(2026, 9, 15)
    assert recommend(date(2026, 4, 15), [], today, RULES)[0] == ReuseRecommendation.REUSE
    assert recommend(date(2025, 6, 1), [], today, RULES)[0] == ReuseRecommendation.REVIEW
    assert recommend(date(2024, 3, 1), [], today, RULES) == (
        ReuseRecommendation.REASSESS,
        "done 30 months ago (over 24)",
    )
    rec, reason = recommend(date(2026, 4, 15), ["2026-07-01: moved house"], today, RULES)
    assert rec == ReuseRecommendation.REVIEW and "moved house" in reason
    assert recommend(date(2026, 4, 15), [], today, TransitionRules(reuse_max_age_months=3))[0] == "review"


def test_dates() -> None:
    assert eighteenth_birthday(date(2008, 2, 29)) == date(2026, 2, 28)
    assert months_between(date(2024, 3, 1), date(2026, 9, 15)) == 30
    assert months_between(date(2026, 4, 16), date(2026, 9, 15)) == 4


def test_lead_time_is_configuration() -> None:
    src = sources([assessment("S58", "s58-childs-needs", "YP", date(2026, 6, 1))])
    assert plan_referrals(src, date(2025, 12, 9), RULES) == [], "a year before 18 by default"
    assert len(plan_referrals(src, date(2025, 12, 10), RULES)) == 1
    assert plan_referrals(src, date(2026, 9, 9), TransitionRules(lead_months=3)) == []
    assert len(plan_referrals(src, date(2026, 9, 10), TransitionRules(lead_months=3))) == 1


def test_latest_carer_assessment_is_offered_and_a_refusal_only_after_a_change() -> None:
    src = sources(
        [
            assessment("S58", "s58-childs-needs", "YP", date(2026, 6, 1)),
            assessment("S60-OLD", "s60-childs-carers", "MUM", date(2023, 1, 1), ("YP",)),
            assessment("S60-NEW", "s60-childs-carers", "MUM", date(2026, 5, 1), ("YP",)),
            assessment("S60-DAD", "s60-childs-carers", "DAD", date(2026, 5, 1), ("YP",), status="refused"),
        ]
    )
    [referral] = plan_referrals(src, date(2026, 9, 15), RULES)
    assert [o.assessment_id for o in referral.offered_assessments] == ["S58", "S60-NEW"]
    src = dataclasses.replace(src, changes=(CircumstanceChange("C", "DAD", date(2026, 8, 1), "lost job"),))
    [referral] = plan_referrals(src, date(2026, 9, 15), RULES)
    dad = next(o for o in referral.offered_assessments if o.assessment_id == "S60-DAD")
    assert (dad.status, dad.recommendation) == ("refused", ReuseRecommendation.REASSESS)


def test_no_date_of_birth_no_referral_and_the_adult_contract_keeps_only_adult_sections() -> None:
    undated = assessment("S58", "s58-childs-needs", "YP", date(2026, 6, 1))
    undated = dataclasses.replace(undated, assessed_person=person("YP", None))
    assert plan_referrals(sources([undated]), date(2026, 9, 15), RULES) == []
    case = Case(
        case_id="C1",
        person_key="YP",
        person=person("YP"),
        la_code="202",
        final_plan_date=date(2025, 5, 1),
        plan_sections=PlanSections(b="needs", d="care", e="outcomes", f="provision", pfa_outcomes=["work"]),
    )
    determined = TransitionDetermination("D", "202", "YP", person("YP"), date(2026, 6, 1), proceeds=True)
    [referral] = plan_referrals(
        TransitionSources(cases=(case,), determinations=(determined,)), date(2026, 9, 15), RULES
    )
    out = referral_out(referral, "https://hub.example")
    assert out.ehc_plan_sections == {"d": "care", "e": "outcomes", "pfa_outcomes": ["work"]}
    assert out.route_of_access == "Planned Entry (Transition)"
    assert out.reasons == ["ehc-plan", "likely-need-determined"]
    assert out.acknowledge_url.endswith(f"/referrals/{referral.referral_id}/acknowledgement")
    assert out.plan_extract_ground and "reg 17" in out.plan_extract_ground, "sent with the ground it is shared on"
    no_ground = RULES.model_copy(update={"plan_extract_ground": None})
    [bare] = plan_referrals(
        TransitionSources(cases=(case,), determinations=(determined,)), date(2026, 9, 15), no_ground
    )
    assert (bare.plan_sections, bare.plan_extract_ground) == (None, None), "no recorded ground, no plan extracts"


def test_a_referral_without_date_of_birth_is_refused() -> None:
    import pytest

    from hub.domain.facts import RuleViolation
    from hub.domain.workflow import evaluate
    from hub.settings import StatutoryRules
    from schemas.events import TransitionReferralIssued

    referral = TransitionReferralIssued(
        referral_id="R", la_code="202", person=person("YP", None), eighteenth_birthday=date(2026, 12, 10)
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(referral, None, StatutoryRules(), event_id="e")
    assert (err.value.field, err.value.rule) == ("data.person.date_of_birth", "dob-required")
    wrong = referral.model_copy(
        update={"person": referral.person.model_copy(update={"date_of_birth": date(2008, 1, 1)})}
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(wrong, None, StatutoryRules(), event_id="e")
    assert err.value.rule == "eighteenth-birthday"


def test_treat_as_decisions_wait_for_the_18th_birthday_and_new_assessments_follow_age() -> None:
    import pytest

    from hub.domain.facts import RuleViolation
    from hub.domain.state import Referral
    from hub.domain.transitions import assessment_type_on
    from hub.domain.workflow import evaluate
    from hub.settings import StatutoryRules
    from schemas.events import CareAssessmentRequested, OfferedAssessment, TreatAsAdultAssessmentDecision

    birthday = date(2026, 12, 10)
    offer = OfferedAssessment(
        assessment_id="S60",
        assessment_type="s60-childs-carers",
        completed_date=date(2026, 5, 1),
        assessor=ASSESSOR,
        eligibility_indication="likely-eligible",
        recommendation=ReuseRecommendation.REVIEW,
        recommendation_reason="changed",
        assessed_person=person("MUM", "1980-01-01"),
        cared_for=person("YP"),
        client_type="Carer",
    )
    referral = Referral("R", "YP", "202", birthday, date(2025, 12, 10), offered=(offer,))
    decision = TreatAsAdultAssessmentDecision(
        referral_id="R",
        assessment_id="S60",
        accepted=False,
        reason="out of date",
        decided_by="manager",
        decision_date=date(2026, 12, 9),
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(decision, referral, StatutoryRules(), event_id="d")
    assert (err.value.field, err.value.rule) == ("data.decision_date", "treat-as-from-18")
    on_the_day = decision.model_copy(update={"decision_date": birthday})
    [request] = evaluate(on_the_day, referral, StatutoryRules(), event_id="d").emitted
    assert isinstance(request, CareAssessmentRequested) and request.assessment_type == "s10-carers"
    assert request.cared_for == person("YP"), "the carer's request names the young person cared for"
    assert assessment_type_on("s60-childs-carers", date(2026, 12, 9), birthday) == "s60-childs-carers"
    assert assessment_type_on("s63-young-carers", birthday, birthday) == "s10-carers"
    assert assessment_type_on("s58-childs-needs", date(2026, 1, 1), birthday) == "s58-childs-needs"
    assert assessment_type_on("s58-childs-needs", birthday, birthday) == "s9-needs"


def test_a_plan_alone_is_no_reason_to_refer_but_asks_childrens_services_to_consider() -> None:
    case = Case(
        "C1", person_key="YP", person=person("YP"), la_code="202", final_plan_date=date(2025, 5, 1)
    )  # born 10 December 2008
    alone = TransitionSources(cases=(case,))
    assert plan_referrals(alone, date(2026, 9, 15), RULES) == [], "s58(1): likely need, not a plan, is the reason"
    assert consideration_alerts(alone, date(2024, 12, 9), RULES) == [], "not yet 16"
    [alert] = consideration_alerts(alone, date(2024, 12, 10), RULES)
    assert (alert.kind, alert.organisation and alert.organisation.agency) == (
        "transition-consideration-due",
        "childrens-social-care",
    )
    refused = TransitionDetermination("D", "202", "YP", person("YP"), date(2025, 1, 10), proceeds=False)
    considered = TransitionSources(cases=(case,), determinations=(refused,))
    assert consideration_alerts(considered, date(2025, 2, 1), RULES) == []
    eligible = assessment("S58", "s58-childs-needs", "YP", date(2024, 6, 1))
    overruled = TransitionSources(cases=(case,), assessments=(eligible,), determinations=(refused,))
    assert plan_referrals(overruled, date(2026, 9, 15), RULES) == [], "the later determination not to proceed stands"


def test_s66_continuity_is_for_those_receiving_childrens_services_and_escalates_until_settled() -> None:
    birthday = date(2026, 12, 10)
    referral = Referral("R", "YP", "202", birthday, date(2025, 12, 10), offered=())
    receiving = TransitionDetermination(
        "D", "202", "YP", person("YP"), date(2025, 6, 1), proceeds=True, childrens_services=("s17-children-act-1989",)
    )
    without = TransitionSources(referrals=(referral,))
    assert continuity_alerts(without, birthday, RULES) == [], "s66 applies to s17 or CSDPA services only"
    receives = TransitionSources(referrals=(referral,), determinations=(receiving,))
    assert continuity_alerts(receives, date(2026, 12, 9), RULES) == []
    assert [(a.kind, a.severity) for a in continuity_alerts(receives, birthday, RULES)] == [
        ("s66-continue-childrens-services", "warning")
    ]
    late = continuity_alerts(receives, date(2027, 1, 7), RULES)
    assert [(a.kind, a.severity) for a in late] == [
        ("s66-continue-childrens-services", "warning"),
        ("s66-continuity-unresolved", "breach"),
    ]
    settled = dataclasses.replace(referral, no_eligible_needs_date=date(2026, 12, 20))
    assert continuity_alerts(dataclasses.replace(receives, referrals=(settled,)), date(2027, 1, 7), RULES) == []


def test_an_assessment_recorded_after_the_referral_is_offered_in_an_update_until_the_case_is_settled() -> None:
    from hub.domain.planner import plan_referral_updates
    from hub.domain.state import Referral

    today = date(2026, 10, 1)
    referral = Referral("R-1", "YP", "202", date(2026, 12, 10), date(2026, 9, 15), offered=())
    own = assessment("S58-1", "s58-childs-needs", "YP", date(2026, 6, 1))
    carer = assessment("S60-1", "s60-childs-carers", "MUM", date(2026, 9, 20), cared_for=("YP",))
    found = TransitionSources(assessments=(own, carer), referrals=(referral,))
    [update] = plan_referral_updates(found, today, RULES)
    assert (update.referral_id, update.updated_date) == ("R-1", today)
    offers = {o.assessment_id: o for o in update.offered_assessments}
    assert set(offers) == {"S58-1", "S60-1"}
    assert (
        offers["S60-1"].recommendation == ReuseRecommendation.REUSE and offers["S60-1"].cared_for == own.assessed_person
    )
    offered_already = dataclasses.replace(referral, offered=tuple(update.offered_assessments))
    assert plan_referral_updates(dataclasses.replace(found, referrals=(offered_already,)), today, RULES) == []
    settled = dataclasses.replace(referral, support_in_place_date=date(2026, 9, 30))
    assert plan_referral_updates(dataclasses.replace(found, referrals=(settled,)), today, RULES) == []


BIRTHDAY = date(2026, 12, 10)


def s58_offer(completed: date, **extra: object) -> OfferedAssessment:
    """The young person's own s58 assessment, offered for reuse."""
    return OfferedAssessment.model_validate(
        {
            "assessment_id": "S58",
            "assessment_type": "s58-childs-needs",
            "completed_date": completed,
            "assessor": ASSESSOR,
            "eligibility_indication": "likely-eligible",
            "recommendation": ReuseRecommendation.REUSE,
            "recommendation_reason": "recent",
            **extra,
        }
    )


def accepted_on(offer: OfferedAssessment, day: date) -> Outcome:
    """The adult service treats the offered assessment as the adult one on ``day``."""
    referral = Referral("R", "YP", "202", BIRTHDAY, date(2025, 12, 10), offered=(offer,))
    decision = TreatAsAdultAssessmentDecision(
        referral_id="R", assessment_id="S58", accepted=True, reason="current", decided_by="manager", decision_date=day
    )
    return evaluate(decision, referral, StatutoryRules(), event_id="d")


def alerts_in(outcome: Outcome) -> list[AlertRaised]:
    return [e for e in outcome.emitted if isinstance(e, AlertRaised)]


def test_a_treat_as_decision_on_another_authoritys_assessment_is_flagged() -> None:
    def decided(assessed_by: str) -> list[AlertRaised]:
        outcome = accepted_on(s58_offer(date(2026, 5, 1), assessed_by_la=assessed_by), BIRTHDAY)
        assert [d.assessment_id for d in outcome.decisions] == ["S58"], "recorded either way"
        return alerts_in(outcome)

    assert decided("202") == []
    [flag] = decided("208")
    assert flag.kind == "treat-as-by-another-authority" and "LA 208" in flag.message
    assert flag.organisation is not None and flag.organisation.code == "202"


def test_childrens_services_are_asked_to_tell_the_young_person_what_the_referral_shared() -> None:
    from hub.domain.planner import telling_them
    from schemas.events import PlanSections, TransitionReferralIssued

    referral = TransitionReferralIssued(
        referral_id="R-1",
        la_code="202",
        person=person("Zebedee"),
        eighteenth_birthday=date(2026, 12, 10),
        issued_date=date(2025, 12, 10),
        reasons=["s58-likely-eligible"],
        plan_sections=PlanSections(d="care"),
    )
    alert = telling_them(referral)
    assert (alert.kind, alert.organisation and alert.organisation.agency.value) == (
        "tell-the-young-person",
        "childrens-social-care",
    )
    assert "s58-likely-eligible" in alert.message and "plan sections" in alert.message
    assert telling_them(referral).alert_id == alert.alert_id, "raised once however often the sweep runs"
    assert "Zebedee" not in alert.message and "2008" not in alert.message, "no personal details"


def test_the_reuse_recommendation_is_recomputed_on_the_decision_date() -> None:
    assert first_day_over(date(2025, 12, 10), 12) == date(2027, 1, 10)
    assert first_day_over(date(2025, 1, 31), 12) == date(2026, 3, 1), "no 31 February: the next day that counts"
    for completed in (date(2025, 1, 31), date(2024, 2, 29), date(2025, 6, 15)):
        first = first_day_over(completed, 12)
        assert months_between(completed, first) > 12 >= months_between(completed, first - timedelta(days=1))

    completed = date(2025, 12, 1)
    offer = s58_offer(completed, review_from=first_day_over(completed, 12), reassess_from=first_day_over(completed, 24))
    assert recommendation_on(offer, BIRTHDAY) == ReuseRecommendation.REUSE
    assert recommendation_on(offer, date(2027, 1, 1)) == ReuseRecommendation.REVIEW
    assert recommendation_on(offer, date(2028, 1, 1)) == ReuseRecommendation.REASSESS
    assert alerts_in(accepted_on(offer, BIRTHDAY)) == []
    assert [a.kind for a in alerts_in(accepted_on(offer, date(2027, 1, 5)))] == ["reuse-recommendation-changed"]
