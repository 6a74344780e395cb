"""The plan after it is issued, with plain data and dated scenarios: one review chain through an
amendment, phase transfers on their reg 18 dates (leap years and the 14/15 February boundary
included), the under-5 cycle, and the next school receiving the plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from adapters.access import Organisation
from hub.domain.authority import refusal
from hub.domain.clocks import Clock, case_clocks
from hub.domain.disputes import sen2_flags
from hub.domain.facts import RuleViolation
from hub.domain.state import Case, CaseException, PersonalBudget, PhaseTransfer
from hub.domain.workflow import evaluate, evolve
from hub.ops.scheduler import alerts_for
from hub.pipeline.routing import route
from hub.settings import StatutoryRules
from schemas.common import Agency, OrganisationRef
from schemas.envelope import envelope_for
from schemas.events import (
    AdviceRequested,
    AlertRaised,
    AppealRecorded,
    Event,
    LaTransferRecorded,
    NoticeIssued,
    PersonalBudgetRecorded,
    PhaseTransferRecorded,
    PlanRecorded,
    PlanSections,
    ReassessmentRecorded,
    ReviewRecorded,
)
from tests.helpers import audited_recipients, person

RULES = StatutoryRules()
SCHOOL = OrganisationRef(agency=Agency.SCHOOL, code="100001")
NEXT_SCHOOL = OrganisationRef(agency=Agency.SCHOOL, code="100002")
NHS = OrganisationRef(agency=Agency.NHS, code="RBS")
CSC = OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code="202-CSC")
FAMILY = OrganisationRef(agency=Agency.FAMILY, code="202")


def plan_case(born: date, issued: date = date(2025, 5, 19), **extra: Any) -> Case:
    who = person(1).model_copy(update={"date_of_birth": born})
    return Case(
        "C-1",
        la_code="202",
        received_date=date(2025, 1, 6),
        person=who,
        school_code="100001",
        panel_outcome="issue-plan",
        final_plan_date=issued,
        final_plan_sent_date=issued,
        **extra,
    )


def step(step: str, day: date, **extra: Any) -> ReviewRecorded:
    return ReviewRecorded.model_validate(
        {"review_id": "R-1", "case_id": "C-1", "la_code": "202", "step": step, "step_date": day, **extra}
    )


def apply(case: Case, event: Event, event_id: str) -> tuple[Case, list[Event]]:
    outcome = evaluate(event, case, RULES, event_id=event_id)
    return evolve(case, "C-1", event, outcome), outcome.emitted


def clocks_of(case: Case, rules: StatutoryRules = RULES) -> dict[str, Clock]:
    return {
        c.kind if c.kind != "review-advice" else f"review-advice:{c.organisation}": c for c in case_clocks(case, rules)
    }


def alerts(clock: Clock, today: date) -> list[tuple[str, str]]:
    return [(a.severity, a.kind) for a in alerts_for(clock, today, RULES)]


def test_one_review_chain_through_an_amendment_with_every_limit_dated() -> None:
    case = plan_case(born=date(2012, 3, 10))  # Year 10 in 2025/26: preparing for adulthood applies

    case, emitted = apply(
        case,
        step("scheduled", date(2026, 3, 2), meeting_date=date(2026, 3, 20), invitees=[SCHOOL, NHS, CSC, FAMILY]),
        "e1",
    )
    requests = [e for e in emitted if isinstance(e, AdviceRequested)]
    assert sorted(r.recipient.code for r in requests) == ["100001", "202-CSC", "RBS"], "the family is not a body"
    assert {(r.due_date, r.review_id) for r in requests} == {(date(2026, 3, 6), "R-1")}, "in time to circulate"
    clocks = clocks_of(case)
    assert clocks["review-notice"].state(date(2026, 3, 2), 14) == "met", "18 days' notice"
    assert clocks["review-advice-circulation"].due == date(2026, 3, 6)
    assert clocks["review-advice:RBS"].due == date(2026, 3, 6) and not clocks["review-advice:RBS"].statutory
    assert "advice" not in clocks, "a review's advice is not a reg 8 assessment clock"
    assert alerts(clocks["review-advice:RBS"], date(2026, 3, 7)) == [("info", "review-advice-reminder")]

    case, _ = apply(case, step("advice-circulated", date(2026, 3, 6)), "e2")
    case, emitted = apply(case, step("held", date(2026, 3, 20), pfa_considered=False), "e3")
    assert [a.kind for a in emitted if isinstance(a, AlertRaised)] == ["review-without-preparing-for-adulthood"]
    clocks = clocks_of(case)
    assert clocks["review-advice-circulation"].state(date(2026, 3, 20), 14) == "met"
    assert clocks["review-report"].due == date(2026, 4, 3)
    assert clocks["review-decision"].due == date(2026, 4, 17)
    assert clocks["annual-review"].due == date(2027, 3, 20), "twelve months from the meeting"
    assert alerts(clocks["review-report"], date(2026, 3, 25)) == [("warning", "review-report-due-soon")]
    assert ("breach", "review-report-breached") in alerts(clocks["review-report"], date(2026, 4, 4))

    case, _ = apply(case, step("report-sent", date(2026, 4, 2)), "e4")
    case, _ = apply(case, step("decision-notified", date(2026, 4, 10), decision="amend"), "e5")
    clocks = clocks_of(case)
    assert clocks["review-decision"].state(date(2026, 4, 10), 14) == "met"
    assert clocks["amended-plan"].due == date(2026, 6, 5), "eight weeks from the proposed amendments"

    amended = PlanRecorded(case_id="C-1", la_code="202", kind="amended", event_date=date(2026, 4, 20))
    with pytest.raises(RuleViolation) as refused:
        apply(case, amended, "e6")
    assert refused.value.rule == "representations-window" and "2026-04-25" in refused.value.message
    case, _ = apply(case, amended.model_copy(update={"event_date": date(2026, 5, 1)}), "e6")
    assert clocks_of(case)["amended-plan"].state(date(2026, 5, 1), 14) == "met"


def test_amendments_not_yet_proposed_are_due_within_twelve_weeks_of_the_meeting() -> None:
    case = plan_case(born=date(2016, 3, 10))
    case, _ = apply(case, step("held", date(2026, 3, 20)), "e1")
    case, emitted = apply(case, step("decision-notified", date(2026, 4, 16), decision="amend"), "e2")
    assert not emitted, "Year 5: no preparing-for-adulthood duty yet"
    assert clocks_of(case)["amended-plan"].due == date(2026, 6, 11), "the proposed amendments came with the decision"
    late = plan_case(born=date(2016, 3, 10))
    late, _ = apply(late, step("held", date(2026, 3, 20)), "e1")
    assert "amended-plan" not in clocks_of(late), "no amendment until one is decided"
    late = replace(late, reviews={"R-1": replace(late.reviews["R-1"], decision="amend")})
    assert clocks_of(late)["amended-plan"].due == date(2026, 6, 12), "Devon: twelve weeks from the meeting"


def test_short_notice_of_a_review_meeting_is_a_breach_at_once() -> None:
    case, _ = apply(
        plan_case(born=date(2016, 3, 10)),
        step("scheduled", date(2026, 3, 10), meeting_date=date(2026, 3, 20), invitees=[SCHOOL]),
        "e1",
    )
    notice = clocks_of(case)["review-notice"]
    assert (notice.due, notice.state(date(2026, 3, 10), 14)) == (date(2026, 3, 6), "late")
    assert ("breach", "review-notice-breached") in alerts(notice, date(2026, 3, 10))


def test_review_steps_need_a_plan_and_a_meeting_first() -> None:
    unplanned = replace(plan_case(born=date(2016, 3, 10)), final_plan_date=None)
    with pytest.raises(RuleViolation) as no_plan:
        evaluate(step("held", date(2026, 3, 20)), unplanned, RULES, event_id="e")
    assert (no_plan.value.rule, no_plan.value.retryable) == ("plan-issued", True)
    with pytest.raises(RuleViolation) as no_meeting:
        evaluate(step("report-sent", date(2026, 3, 20)), plan_case(born=date(2016, 3, 10)), RULES, event_id="e")
    assert no_meeting.value.rule == "review-held"
    with pytest.raises(ValueError, match="meeting_date"):
        step("scheduled", date(2026, 3, 2))


def test_an_amended_plan_notice_meets_the_limit_as_the_plan_does() -> None:
    case = plan_case(born=date(2016, 3, 10))
    case, _ = apply(case, step("held", date(2026, 3, 20)), "e1")
    case, _ = apply(case, step("amendments-proposed", date(2026, 4, 1)), "e2")
    notice = NoticeIssued(
        notice_id="N-1",
        case_id="C-1",
        la_code="202",
        notice="amended-plan",
        sent_date=date(2026, 5, 20),
        recipients=["parent"],
        appeal_information=True,
        mediation_information=True,
    )
    case, _ = apply(case, notice, "e3")
    clock = clocks_of(case)["amended-plan"]
    assert (clock.due, clock.state(date(2026, 6, 1), 14)) == (date(2026, 5, 27), "met")


def test_phase_transfers_fall_due_on_their_reg_18_dates() -> None:
    # born June 2015: Year 7 from September 2026, Year 12 from September 2031
    case = plan_case(born=date(2015, 6, 10), issued=date(2024, 6, 3))
    transfers = [c for c in case_clocks(case, RULES) if c.kind == "phase-transfer"]
    assert [c.due for c in transfers] == [date(2026, 2, 14), date(2031, 3, 30)], "before 15 February, 31 March"
    infant_junior = StatutoryRules(phase_transfer_years=[0, 3, 7, 12])
    born_2019 = plan_case(born=date(2019, 10, 1), issued=date(2023, 11, 1))
    due = [c.due for c in case_clocks(born_2019, infant_junior) if c.kind == "phase-transfer"]
    assert due == [date(2024, 2, 14), date(2027, 2, 14), date(2031, 2, 14), date(2036, 3, 30)]

    reminders = {c.kind: c for c in case_clocks(case, RULES) if c.clock_id.endswith(":year-7:2026")}
    assert reminders["phase-transfer-review"].due == date(2025, 11, 22), "twelve weeks before the deadline"
    assert reminders["phase-transfer-amendments"].due == date(2026, 1, 17)
    assert alerts(reminders["phase-transfer-review"], date(2025, 11, 23)) == [
        ("info", "phase-transfer-review-reminder")
    ]


@pytest.mark.parametrize(
    ("amended_on", "state"), [(date(2026, 2, 13), "met"), (date(2026, 2, 14), "met"), (date(2026, 2, 15), "late")]
)
def test_the_15_february_boundary(amended_on: date, state: str) -> None:
    case = plan_case(born=date(2015, 6, 10), issued=date(2024, 6, 3))
    case, _ = apply(
        case,
        PhaseTransferRecorded(
            transfer_id="T-1",
            case_id="C-1",
            la_code="202",
            transfer_kind="school-phase",
            transfer_date=date(2026, 9, 2),
            next_institution=NEXT_SCHOOL,
        ),
        "e0",
    )
    case, _ = apply(case, step("held", date(2025, 11, 10), review_type="phase-transfer"), "e1")
    case, _ = apply(case, step("amendments-proposed", date(2026, 1, 12)), "e2")
    case, _ = apply(case, PlanRecorded(case_id="C-1", la_code="202", kind="amended", event_date=amended_on), "e3")
    [transfer] = [c for c in case_clocks(case, RULES) if c.clock_id.endswith("phase-transfer:T-1")]
    assert transfer.state(date(2026, 3, 1), 14) == state
    assert len([c for c in case_clocks(case, RULES) if c.kind == "phase-transfer"]) == 2, (
        "the recorded move replaces Year 7's"
    )


def test_an_amendment_that_names_no_next_institution_does_not_meet_reg_18() -> None:
    case = plan_case(born=date(2015, 6, 10), issued=date(2024, 6, 3))
    case, _ = apply(case, step("held", date(2025, 11, 10)), "e1")
    case, _ = apply(case, step("amendments-proposed", date(2026, 1, 12)), "e2")
    case, _ = apply(case, PlanRecorded(case_id="C-1", la_code="202", kind="amended", event_date=date(2026, 2, 1)), "e3")
    [year_7] = [c for c in case_clocks(case, RULES) if c.clock_id.endswith("phase-transfer:year-7:2026")]
    assert year_7.state(date(2026, 2, 16), 14) == "overdue"


@pytest.mark.parametrize(
    ("moves_on", "due"),
    [
        (date(2028, 7, 31), date(2028, 2, 29)),  # leap year
        (date(2027, 7, 31), date(2027, 2, 28)),
        (date(2027, 9, 6), date(2027, 4, 6)),
    ],
)
def test_a_post_16_move_is_due_five_months_before_it(moves_on: date, due: date) -> None:
    case = plan_case(
        born=date(2009, 12, 1),
        issued=date(2025, 5, 19),
        transfers=(PhaseTransfer("T-2", "C-1", "post-16-to-post-16", moves_on, "100002"),),
    )
    [clock] = [c for c in case_clocks(case, RULES) if c.clock_id.endswith("phase-transfer:T-2")]
    assert clock.due == due


def test_under_fives_are_reviewed_on_the_configured_cycle() -> None:
    toddler = plan_case(born=date(2023, 1, 10), issued=date(2026, 6, 1))
    assert clocks_of(toddler)["annual-review"].due == date(2027, 6, 1)
    assert clocks_of(toddler, StatutoryRules(under_five_review_months=6))["annual-review"].due == date(2026, 12, 1)
    older = plan_case(born=date(2015, 1, 10), issued=date(2026, 6, 1))
    assert clocks_of(older, StatutoryRules(under_five_review_months=6))["annual-review"].due == date(2027, 6, 1)


def test_the_next_school_receives_the_plan_before_the_move_and_alone_after_it() -> None:
    case = plan_case(
        born=date(2015, 6, 10),
        transfers=(PhaseTransfer("T-1", "C-1", "school-phase", date(2026, 9, 2), "100002"),),
    )
    plan = PlanRecorded(
        case_id="C-1",
        la_code="202",
        kind="amended",
        event_date=date(2026, 2, 1),
        sections=PlanSections(b="b", i="next"),
    )

    def schools(sent: datetime) -> list[bytes]:
        env = envelope_for(plan, source="/la/202").model_copy(update={"time": sent})
        result = route(env, plan, topic="ehc.plans.v1", hub_source="/hub", context=case)
        records = [r for r in result.records if r.topic == "out.school.v1"]
        assert len({r.envelope.id for r in records}) == len(records), "each copy has its own id"
        return sorted(dict(r.headers)["hub-recipient-org"] for r in records)

    assert schools(datetime(2026, 2, 1, 9)) == [b"100001", b"100002"]
    assert schools(datetime(2026, 9, 3, 9)) == [b"100002"]


def reassessment(step: str, day: date, **extra: Any) -> ReassessmentRecorded:
    return ReassessmentRecorded.model_validate(
        {"reassessment_id": "RA-1", "case_id": "C-1", "la_code": "202", "step": step, "step_date": day, **extra}
    )


def test_a_reassessment_asks_for_advice_again_and_the_plan_follows_within_14_weeks() -> None:
    case = plan_case(born=date(2016, 3, 10))
    with pytest.raises(RuleViolation) as early:
        apply(case, reassessment("decision-notified", date(2026, 3, 16), decision="reassess"), "e0")
    assert (early.value.rule, early.value.retryable) == ("reassessment-requested", True)
    case, _ = apply(case, reassessment("requested", date(2026, 3, 2), requested_by="parent"), "e1")
    assert clocks_of(case)["reassessment-decision"].due == date(2026, 3, 17), "15 days from the request"
    case, emitted = apply(
        case, reassessment("decision-notified", date(2026, 3, 16), decision="reassess", advisers=[SCHOOL, NHS]), "e2"
    )
    asked = sorted(e.recipient.agency.value for e in emitted if isinstance(e, AdviceRequested))
    assert asked == ["family", "nhs", "school"], "reg 26: the advice is sought again, the family's included"
    clocks = clocks_of(case)
    assert clocks["reassessment-decision"].state(date(2026, 3, 16), 14) == "met"
    assert clocks["reassessment-plan"].due == date(2026, 6, 22), "14 weeks from the decision"
    assert {c.kind for c in case_clocks(case, RULES)} >= {"advice", "family-advice"}, "reg 8 applies to the advice"
    case, _ = apply(case, PlanRecorded(case_id="C-1", la_code="202", kind="amended", event_date=date(2026, 6, 1)), "e3")
    assert clocks_of(case)["reassessment-plan"].state(date(2026, 6, 1), 14) == "met"


def appeal(step: str, day: date, subject: str = "refusal-to-assess", **extra: Any) -> AppealRecorded:
    return AppealRecorded.model_validate(
        {"appeal_id": "AP-1", "case_id": "C-1", "la_code": "202", "step": step, "step_date": day, "subject": subject}
        | extra
    )


def by_appeal_kind(case: Case) -> dict[str, Clock]:
    return {c.kind: c for c in case_clocks(case, RULES) if c.clock_id.endswith(":AP-1")}


def test_a_conceded_refusal_to_assess_runs_the_reg_45_limits_from_the_concession() -> None:
    refused = replace(plan_case(born=date(2016, 3, 10)), decision="not-assess", final_plan_date=None)
    with pytest.raises(RuleViolation) as unregistered:
        apply(refused, appeal("conceded", date(2026, 5, 4)), "e0")
    assert unregistered.value.rule == "appeal-registered"
    case, _ = apply(refused, appeal("mediation-requested", date(2026, 3, 2)), "e1")
    case, _ = apply(case, appeal("appeal-registered", date(2026, 4, 1)), "e2")
    case, _ = apply(case, appeal("conceded", date(2026, 5, 4)), "e3")
    clocks = by_appeal_kind(case)
    assert {k: c.due for k, c in clocks.items()} == {
        "unopposed-assessment-notice": date(2026, 5, 18),
        "unopposed-not-to-issue": date(2026, 7, 13),
        "unopposed-final-plan": date(2026, 8, 10),
    }
    case, _ = apply(case, appeal("complied", date(2026, 5, 15), complied_with="assessment-notice"), "e4")
    case, _ = apply(case, appeal("complied", date(2026, 8, 12), complied_with="final-plan"), "e5")
    clocks = by_appeal_kind(case)
    assert clocks["unopposed-assessment-notice"].state(date(2026, 8, 12), 14) == "met"
    assert "unopposed-not-to-issue" not in clocks, "the LA issued a plan instead"
    assert ("breach", "unopposed-final-plan-breached") in alerts(clocks["unopposed-final-plan"], date(2026, 8, 12))
    assert sen2_flags(case) == {
        "RequestMediation": True,
        "RequestTribunal": True,
        "AssessmentMediation": False,
        "AssessmentTribunal": False,
        "OtherMediation": False,
        "OtherTribunal": False,
    }
    with pytest.raises(RuleViolation, match="refusal-to-assess"):
        apply(case, appeal("concluded", date(2026, 9, 1), subject="cease"), "e6")


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("refusal-to-issue", {"unopposed-draft-plan": date(2026, 6, 8), "unopposed-final-plan": date(2026, 7, 20)}),
        ("plan-contents", {"unopposed-amended-plan": date(2026, 6, 8)}),
        ("refusal-to-amend", {"unopposed-amended-plan": date(2026, 6, 8)}),
        ("named-institution", {"unopposed-amended-plan": date(2026, 5, 18)}),
        ("cease", {}),
    ],
)
def test_each_kind_of_conceded_appeal_has_its_own_limits(subject: str, expected: dict[str, date]) -> None:
    case = plan_case(born=date(2016, 3, 10))
    case, _ = apply(case, appeal("appeal-registered", date(2026, 4, 1), subject=subject), "e1")
    case, _ = apply(case, appeal("conceded", date(2026, 5, 4), subject=subject), "e2")
    assert {k: c.due for k, c in by_appeal_kind(case).items()} == expected


def test_a_tribunal_order_is_due_when_it_says_and_an_absence_can_excuse_an_unopposed_limit() -> None:
    case = plan_case(born=date(2016, 3, 10))
    case, _ = apply(case, appeal("appeal-registered", date(2026, 4, 1), subject="plan-contents"), "e1")
    case, _ = apply(
        case, appeal("order-made", date(2026, 9, 1), subject="plan-contents", order_due_date=date(2026, 10, 6)), "e2"
    )
    order = by_appeal_kind(case)["tribunal-order"]
    assert (order.due, order.state(date(2026, 10, 7), 14)) == (date(2026, 10, 6), "overdue")
    case, _ = apply(case, appeal("complied", date(2026, 10, 2), subject="plan-contents", complied_with="order"), "e3")
    assert by_appeal_kind(case)["tribunal-order"].state(date(2026, 10, 7), 14) == "met"

    away = CaseException(
        "X", "C-1", "absent-from-area", date(2026, 5, 10), date(2026, 5, 24), "LA", limit_impractical=True
    )
    conceded = replace(case, exceptions=(away,))
    conceded, _ = apply(conceded, appeal("conceded", date(2026, 5, 4), subject="plan-contents"), "e4")
    limit = by_appeal_kind(conceded)["unopposed-amended-plan"]
    assert limit.state(date(2026, 6, 20), 14) == "excepted", "two weeks away is enough under reg 45"


def budget(step: str, day: date, **extra: Any) -> PersonalBudgetRecorded:
    return PersonalBudgetRecorded.model_validate(
        {"budget_id": "PB-1", "case_id": "C-1", "la_code": "202", "step": step, "step_date": day, **extra}
    )


def test_a_personal_budget_is_asked_for_when_a_plan_is_prepared_and_a_refusal_gives_reasons() -> None:
    undrafted = replace(plan_case(born=date(2016, 3, 10)), final_plan_date=None)
    with pytest.raises(RuleViolation) as no_draft:
        apply(undrafted, budget("requested", date(2026, 4, 1), requested_at="draft"), "e1")
    assert no_draft.value.rule == "budget-when-plan-prepared"
    drafted = replace(undrafted, draft_date=date(2026, 3, 30))
    case, _ = apply(drafted, budget("requested", date(2026, 4, 1), requested_at="draft"), "e1")
    with pytest.raises(ValueError, match="reasons"):
        budget("decided", date(2026, 4, 20), decision="refused")
    case, _ = apply(case, budget("decided", date(2026, 4, 20), decision="agreed", direct_payments=True), "e2")
    assert case.budgets["PB-1"] == PersonalBudget(
        "PB-1", "C-1", "draft", date(2026, 4, 1), "agreed", date(2026, 4, 20), True
    )
    with pytest.raises(RuleViolation) as at_review:
        apply(plan_case(born=date(2016, 3, 10)), budget("requested", date(2026, 4, 1), requested_at="review"), "e3")
    assert at_review.value.rule == "budget-when-plan-prepared"


def la_move(step: str, day: date, **extra: Any) -> LaTransferRecorded:
    values = {"transfer_id": "M-1", "case_id": "C-1", "la_code": "202", "new_la_code": "208", "step": step}
    return LaTransferRecorded.model_validate({**values, "step_date": day, **extra})


@pytest.mark.parametrize(
    ("aware", "move", "due"),
    [
        (date(2026, 5, 1), date(2026, 6, 15), date(2026, 6, 15)),  # told in good time: on the day of the move
        (date(2026, 6, 1), date(2026, 6, 15), date(2026, 6, 19)),  # 15 working days from learning of it
        (date(2026, 8, 24), date(2026, 8, 28), date(2026, 9, 14)),  # the August bank holiday is not a working day
    ],
)
def test_the_old_council_transfers_the_plan_on_the_move_or_within_15_working_days(
    aware: date, move: date, due: date
) -> None:
    case, _ = apply(plan_case(born=date(2016, 3, 10)), la_move("aware", aware, move_date=move), "e1")
    [clock] = [c for c in case_clocks(case, RULES) if c.kind == "la-transfer"]
    assert (clock.due, clock.organisation) == (due, "202")


def test_after_a_transfer_the_new_council_owns_the_case_tells_the_family_and_reviews_no_sooner_than_3_months() -> None:
    case = plan_case(born=date(2016, 3, 10), last_review_date=date(2025, 8, 1))
    with pytest.raises(RuleViolation) as early:
        apply(case, la_move("new-la-notified", date(2026, 7, 1), la_code="208"), "e0")
    assert early.value.rule == "plan-transferred"
    case, _ = apply(case, la_move("aware", date(2026, 6, 1), move_date=date(2026, 6, 15)), "e1")
    case, _ = apply(case, la_move("transferred", date(2026, 6, 19), move_date=date(2026, 6, 15)), "e2")
    assert case.owner == "208"
    clocks = clocks_of(case)
    assert clocks["la-transfer"].state(date(2026, 6, 19), 14) == "met"
    assert (clocks["new-la-notice"].due, clocks["new-la-notice"].organisation) == (date(2026, 7, 31), "208")
    assert clocks["annual-review"].due == date(2026, 9, 19), "three months from the transfer, later than August"
    assert clocks["annual-review"].organisation == "208"
    old, new = Organisation(Agency.LA_SEN, "202", "202"), Organisation(Agency.LA_SEN, "208", "208")
    held = step("held", date(2026, 9, 1)).model_copy(update={"la_code": "208"})
    assert refusal(new, held, case) is None
    assert "belongs to LA 208" in (refusal(old, held, case) or "")
    case, _ = apply(case, la_move("new-la-notified", date(2026, 7, 20), la_code="208"), "e3")
    assert clocks_of(case)["new-la-notice"].state(date(2026, 7, 20), 14) == "met"
    recent = plan_case(born=date(2016, 3, 10), last_review_date=date(2026, 3, 20))
    recent, _ = apply(recent, la_move("transferred", date(2026, 6, 19), move_date=date(2026, 6, 15)), "e4")
    assert clocks_of(recent)["annual-review"].due == date(2027, 3, 20), "the usual date, when it is later"


def test_the_next_school_hears_of_the_move_that_names_it() -> None:
    case = plan_case(born=date(2015, 6, 10))
    move = PhaseTransferRecorded(
        transfer_id="T-1",
        case_id="C-1",
        la_code="202",
        transfer_kind="school-phase",
        transfer_date=date(2026, 9, 2),
        next_institution=NEXT_SCHOOL,
    )
    env = envelope_for(move, source="/la/202").model_copy(update={"time": datetime(2026, 1, 20, 9)})
    result = route(env, move, topic="ehc.reviews.v1", hub_source="/hub", context=case)
    told = sorted(dict(r.headers)["hub-recipient-org"] for r in result.records if r.topic == "out.school.v1")
    assert told == [b"100001", b"100002"], "the school now, and the one named for the move"
    assert audited_recipients(result.records) == {"school:100001", "school:100002"}
