"""The EHC workflow rules with plain data: fan-out, reuse of advice, and contradictions refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hub.domain.facts import CaseUpdate
from hub.domain.fanout import curriculum_year
from hub.domain.state import AdviceRequest, Case
from hub.domain.workflow import RuleViolation, evaluate
from hub.settings import StatutoryRules
from schemas.common import AdviceKind, Adviser, Agency, OrganisationRef, PersonRef
from schemas.events import (
    AdviceRequested,
    AdviceSubmitted,
    AlertRaised,
    AssessmentDecisionMade,
    CaseExceptionRecorded,
    ExistingAdviceAgreement,
    NoticeIssued,
    PlanRecorded,
)
from tests.helpers import person

RULES = StatutoryRules()
SCHOOL = OrganisationRef(agency=Agency.SCHOOL, code="100001", name="Hillside Primary")
EP = OrganisationRef(agency=Agency.EDUCATIONAL_PSYCHOLOGY, code="202-EPS")
NHS = OrganisationRef(agency=Agency.NHS, code="RBS")
CSC = OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code="202-CSC")


def case(year_group: int | None = 5, who: PersonRef | None = None, **extra: object) -> Case:
    """A known case; its person has no date of birth unless given, so the recorded year group counts."""
    who = who or person(1).model_copy(update={"date_of_birth": None})
    return Case("C-1", received_date=date(2026, 1, 5), person=who, year_group=year_group, **extra)  # type: ignore[arg-type]


def decision(**kw: object) -> AssessmentDecisionMade:
    values = {
        "case_id": "C-1",
        "la_code": "202",
        "decision": "assess",
        "decision_date": date(2026, 2, 9),
        "advisers": [SCHOOL, EP, NHS, CSC],
    }
    values.update(kw)
    return AssessmentDecisionMade.model_validate(values)


def test_decision_to_assess_requests_each_advice_from_the_right_organisation() -> None:
    out = evaluate(decision(), case(), RULES, event_id="e1")
    requests = {e.advice_kind: e for e in out.emitted if isinstance(e, AdviceRequested)}
    assert set(requests) == {
        AdviceKind.PARENT_OR_YOUNG_PERSON,
        AdviceKind.EDUCATION,
        AdviceKind.HEALTH,
        AdviceKind.EDUCATIONAL_PSYCHOLOGY,
        AdviceKind.SOCIAL_CARE,
    }
    assert requests[AdviceKind.HEALTH].recipient == NHS
    assert requests[AdviceKind.EDUCATION].recipient == SCHOOL
    assert requests[AdviceKind.PARENT_OR_YOUNG_PERSON].recipient.agency == Agency.FAMILY
    assert requests[AdviceKind.HEALTH].due_date == date(2026, 3, 23)
    assert requests[AdviceKind.HEALTH].person.nhs_number == person(1).nhs_number
    assert len({r.request_id for r in out.advice_opened}) == 5
    assert out.case == CaseUpdate(decision="assess", decision_date=date(2026, 2, 9))


def test_from_year_9_preparing_for_adulthood_advice_is_required() -> None:
    out = evaluate(decision(), case(year_group=9), RULES, event_id="e1")
    alerts = [e for e in out.emitted if isinstance(e, AlertRaised)]
    assert [a.kind for a in alerts] == ["advice-adviser-missing"]
    assert "preparing-for-adulthood" in alerts[0].message
    named = decision(advice_sources=[{"advice_kind": "preparing-for-adulthood", "organisation": CSC.model_dump()}])
    out = evaluate(named, case(year_group=9), RULES, event_id="e1")
    kinds = [e.advice_kind for e in out.emitted if isinstance(e, AdviceRequested)]
    assert AdviceKind.PREPARING_FOR_ADULTHOOD in kinds
    assert not [e for e in out.emitted if isinstance(e, AlertRaised)]


def test_existing_advice_agreed_sufficient_by_all_three_is_reused_not_requested() -> None:
    ep_report = Adviser(name="Dr Lee", role="Educational psychologist", organisation=EP)
    agreed = ExistingAdviceAgreement(
        advice_kind=AdviceKind.EDUCATIONAL_PSYCHOLOGY,
        adviser=ep_report,
        given_date=date(2025, 11, 1),
        agreed_by_adviser=True,
        agreed_by_la=True,
        agreed_by_family=True,
    )
    half = agreed.model_copy(update={"advice_kind": AdviceKind.HEALTH, "agreed_by_family": False})
    out = evaluate(decision(existing_advice=[agreed, half]), case(), RULES, event_id="e1")
    kinds = {e.advice_kind for e in out.emitted if isinstance(e, AdviceRequested)}
    assert AdviceKind.EDUCATIONAL_PSYCHOLOGY not in kinds
    assert AdviceKind.HEALTH in kinds, "without the family's agreement the advice is sought again"
    [reused] = [r for r in out.advice_opened if r.reused]
    assert reused.advice_kind == "educational-psychology"
    assert reused.reused is not None and reused.reused.agreed_by_family is True


def test_contradictions_are_refused_with_field_and_rule() -> None:
    with pytest.raises(RuleViolation) as err:
        evaluate(decision(decision_date=date(2026, 1, 1)), case(), RULES, event_id="e1")
    assert (err.value.field, err.value.rule, err.value.retryable) == (
        "data.decision_date",
        "decision-after-request",
        False,
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(decision(), None, RULES, event_id="e1")
    assert (err.value.rule, err.value.retryable) == ("known-case", True)


def _advice(request_id: str = "R1", submitted: date = date(2026, 3, 1)) -> AdviceSubmitted:
    return AdviceSubmitted(
        case_id="C-1",
        request_id=request_id,
        advice_kind="health",
        adviser=Adviser(name="Dr A", role="Paediatrician", organisation=NHS),
        submitted_date=submitted,
    )


def test_advice_must_answer_a_request_once() -> None:
    requested = {"R1": AdviceRequest("R1", "C-1", "health", "nhs", "RBS", date(2026, 2, 9))}
    with pytest.raises(RuleViolation) as err:
        evaluate(_advice("R-UNKNOWN"), case(advice=requested), RULES, event_id="a1")
    assert err.value.rule == "known-advice-request"
    out = evaluate(_advice(), case(advice=requested), RULES, event_id="a1")
    assert out.advice_progress[0].submitted_date == date(2026, 3, 1)
    assert out.advice_progress[0].received_date == date(2026, 3, 1)
    done = {"R1": replace(requested["R1"], submission_event_id="a1", submitted_date=date(2026, 3, 1))}
    assert evaluate(_advice(), case(advice=done), RULES, event_id="a1").advice_progress, "a redelivery is fine"
    with pytest.raises(RuleViolation) as err:
        evaluate(_advice(), case(advice=done), RULES, event_id="a2")
    assert err.value.rule == "single-submission"
    with pytest.raises(RuleViolation) as err:
        evaluate(_advice(submitted=date(2026, 2, 1)), case(advice=requested), RULES, event_id="a3")
    assert err.value.rule == "submitted-after-request"


def test_the_familys_own_advice_is_always_sought_even_when_agreed_sufficient() -> None:
    ep_report = Adviser(name="Parent", role="Parent", organisation=OrganisationRef(agency=Agency.FAMILY, code="202"))
    agreed = ExistingAdviceAgreement(
        advice_kind=AdviceKind.PARENT_OR_YOUNG_PERSON,
        adviser=ep_report,
        given_date=date(2025, 11, 1),
        agreed_by_adviser=True,
        agreed_by_la=True,
        agreed_by_family=True,
    )
    out = evaluate(decision(existing_advice=[agreed]), case(), RULES, event_id="e1")
    kinds = {e.advice_kind for e in out.emitted if isinstance(e, AdviceRequested)}
    assert AdviceKind.PARENT_OR_YOUNG_PERSON in kinds, "reg 6(4) covers (1)(b)-(h) only"
    assert not [r for r in out.advice_opened if r.reused]


def test_preparing_for_adulthood_follows_the_date_of_birth_not_a_stale_or_missing_year_group() -> None:
    assert curriculum_year(date(2010, 3, 1), date(2026, 2, 9)) == 11
    assert curriculum_year(date(2012, 9, 1), date(2026, 2, 9)) == 8, "born 1 September: the younger cohort"
    assert curriculum_year(date(2012, 8, 31), date(2026, 2, 9)) == 9
    adult = person(1).model_copy(update={"date_of_birth": date(2005, 6, 1)})  # 20 at the decision
    out = evaluate(decision(), case(year_group=None, who=adult), RULES, event_id="e1")
    alerts = [e for e in out.emitted if isinstance(e, AlertRaised)]
    assert [a.kind for a in alerts] == ["advice-adviser-missing"] and "preparing-for-adulthood" in alerts[0].message
    young = person(1).model_copy(update={"date_of_birth": date(2016, 6, 1)})  # Year 4, whatever was recorded
    out = evaluate(decision(), case(year_group=9, who=young), RULES, event_id="e1")
    assert not [e for e in out.emitted if isinstance(e, AlertRaised)]


def test_a_missed_appointment_must_name_the_advice_request_it_excuses() -> None:
    requested = {"R1": AdviceRequest("R1", "C-1", "health", "nhs", "RBS", date(2026, 2, 9))}
    missed = CaseExceptionRecorded(
        exception_id="M",
        case_id="C-1",
        kind="missed-appointment",  # type: ignore[arg-type]
        start_date=date(2026, 3, 2),
        end_date=date(2026, 3, 2),
        recorded_by="LA",
        limit_impractical=True,
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(missed, case(advice=requested), RULES, event_id="x1")
    assert (err.value.field, err.value.rule) == ("data.request_id", "missed-appointment-names-request")
    named = missed.model_copy(update={"request_id": "R1"})
    [recorded] = evaluate(named, case(advice=requested), RULES, event_id="x1").exceptions
    assert (recorded.request_id, recorded.limit_impractical) == ("R1", True)


def notice(kind: str, sent: date, served: date | None = None, **kw: object) -> NoticeIssued:
    values: dict = {
        "notice_id": f"N-{kind}",
        "case_id": "C-1",
        "la_code": "202",
        "notice": kind,
        "sent_date": sent,
        "served_date": served,
        "recipients": ["parent"],
        "appeal_information": True,
        "mediation_information": True,
    }
    values.update(kw)
    return NoticeIssued.model_validate(values)


def test_notices_are_what_meet_the_limits() -> None:
    out = evaluate(notice("decision-to-assess", date(2026, 2, 12)), case(), RULES, event_id="n1")
    assert out.case == CaseUpdate(decision_notified_date=date(2026, 2, 12))
    out = evaluate(notice("not-to-issue", date(2026, 4, 20)), case(), RULES, event_id="n2")
    assert out.case == CaseUpdate(not_issue_notified_date=date(2026, 4, 20))
    out = evaluate(notice("draft-plan", date(2026, 4, 1), date(2026, 4, 3)), case(), RULES, event_id="n3")
    assert out.case == CaseUpdate(draft_served_date=date(2026, 4, 3)), "representations run from service"
    assert not out.emitted


def test_a_final_plan_inside_the_15_days_for_representations_is_refused() -> None:
    drafted = case(draft_served_date=date(2026, 4, 3))
    with pytest.raises(RuleViolation) as err:
        evaluate(notice("final-plan", date(2026, 4, 17)), drafted, RULES, event_id="f1")
    assert (err.value.field, err.value.rule) == ("data.sent_date", "representations-window")
    out = evaluate(notice("final-plan", date(2026, 4, 18)), drafted, RULES, event_id="f1")
    assert out.case == CaseUpdate(final_plan_sent_date=date(2026, 4, 18))


def test_a_draft_served_too_late_for_a_final_plan_within_20_weeks_is_flagged_at_once() -> None:
    # received 5 January: the final plan is due 25 May; a draft served on 12 May leaves 13 days
    out = evaluate(notice("draft-plan", date(2026, 5, 12)), case(), RULES, event_id="d1")
    [alert] = [e for e in out.emitted if isinstance(e, AlertRaised)]
    assert (alert.kind, alert.severity, alert.due_date) == ("final-plan-at-risk", "warning", date(2026, 5, 25))
    assert alert.organisation is not None and alert.organisation.agency == Agency.LA_SEN


def test_an_appealable_notice_without_the_reg_32_information_is_flagged() -> None:
    bare = notice("decision-not-to-assess", date(2026, 2, 12), appeal_information=False)
    [alert] = [e for e in evaluate(bare, case(), RULES, event_id="b1").emitted if isinstance(e, AlertRaised)]
    assert (alert.kind, alert.severity) == ("notice-without-appeal-information", "data-quality")
    told = notice("decision-to-assess", date(2026, 2, 12), appeal_information=False, mediation_information=False)
    assert not evaluate(told, case(), RULES, event_id="b2").emitted, "a decision to assess is not appealable"


def test_the_year_9_review_asks_childrens_services_to_consider_the_transition() -> None:
    review = PlanRecorded(
        case_id="C-1", la_code="202", kind="reviewed", event_date=date(2026, 3, 1), review_type="year-9"
    )
    [alert] = [e for e in evaluate(review, case(), RULES, event_id="r9").emitted if isinstance(e, AlertRaised)]
    assert alert.kind == "transition-consideration-due" and alert.organisation == OrganisationRef(
        agency=Agency.CHILDRENS_SOCIAL_CARE, code="202"
    )
    annual = review.model_copy(update={"review_type": "annual"})
    assert not evaluate(annual, case(), RULES, event_id="ra").emitted


def test_ceasing_is_decided_notified_and_effective_only_once_the_time_to_appeal_has_passed() -> None:
    adult = person(1).model_copy(update={"date_of_birth": date(2007, 3, 1)})  # 18 on 1 March 2025
    cease = PlanRecorded(
        case_id="C-1",
        la_code="202",
        kind="ceased",
        event_date=date(2026, 3, 2),
        cease_reason="outcomes-achieved",
    )
    with pytest.raises(RuleViolation) as err:
        evaluate(cease, case(who=adult, last_review_date=date(2025, 2, 1)), RULES, event_id="c1")
    assert (err.value.field, err.value.rule) == ("data.event_date", "review-before-ceasing"), "reg 30"
    reviewed = case(who=adult, last_review_date=date(2026, 2, 2), final_plan_date=date(2024, 5, 1))
    out = evaluate(cease, reviewed, RULES, event_id="c1")
    assert out.case == CaseUpdate(cease_decided_date=date(2026, 3, 2)), "a decision, not yet an end"
    moved = cease.model_copy(update={"cease_reason": "moved-to-another-la"})
    assert evaluate(moved, case(who=adult), RULES, event_id="c2").case is not None, "a move needs no review"
    unreasoned = cease.model_copy(update={"cease_reason": None})
    alerts = evaluate(unreasoned, reviewed, RULES, event_id="c3").emitted
    assert [a.kind for a in alerts if isinstance(a, AlertRaised)] == ["cease-without-reason"]

    with pytest.raises(RuleViolation) as err:
        evaluate(notice("cease", date(2026, 3, 3)), reviewed, RULES, event_id="n1")
    assert (err.value.rule, err.value.retryable) == ("cease-decided", True)
    decided = replace(reviewed, cease_decided_date=date(2026, 3, 2))
    out = evaluate(notice("cease", date(2026, 3, 3)), decided, RULES, event_id="n1")
    assert out.case == CaseUpdate(ceased_date=date(2026, 5, 3)), "maintained through the two months to appeal"


def test_identifiers_with_control_characters_are_refused() -> None:
    for bad in ("C-1\x00", "C-1\r\nX"):
        with pytest.raises(RuleViolation) as err:
            evaluate(decision(case_id=bad), case(), RULES, event_id="x")
        assert (err.value.field, err.value.rule) == ("data.case_id", "control-characters")
