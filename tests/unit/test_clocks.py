"""Statutory clocks with plain data: due dates, exceptions as the regulations say, the DfE figure."""

from __future__ import annotations

from datetime import date

from hub.domain.clocks import add_months, case_clocks, timeliness
from hub.domain.state import AdviceRequest, Appeal, Case, CaseException
from hub.ops.scheduler import alerts_for
from hub.settings import StatutoryRules

RULES = StatutoryRules()


def case(exceptions: list[dict] | tuple = (), **kw: object) -> Case:
    """A case; its exceptions carry the LA's judgement that the limit is impractical unless they say not."""
    base: dict = {
        "case_id": "C-1",
        "la_code": "202",
        "received_date": date(2026, 1, 5),
        "decision": "assess",
        "decision_date": date(2026, 2, 9),
        "decision_notified_date": date(2026, 2, 9),
    }
    base.update(kw)
    recorded = tuple(
        CaseException(case_id=base["case_id"], recorded_by="LA", **{"limit_impractical": True, **e}) for e in exceptions
    )
    return Case(**base, exceptions=recorded)


def advice(
    request_id: str, agency: str, requested: date, received: date | None = None, submitted: date | None = None
) -> AdviceRequest:
    return AdviceRequest(
        request_id=request_id,
        case_id="C-1",
        advice_kind="health" if agency == "nhs" else "education",
        recipient_agency=agency,
        recipient_code="RBS" if agency == "nhs" else "100001",
        requested_date=requested,
        received_date=received,
        submitted_date=submitted,
    )


def by_kind(clocks: list) -> dict:
    return {c.kind if c.kind != "advice" else f"advice:{c.request_id}": c for c in clocks}


def test_due_dates_run_from_day_one_and_advice_from_receipt() -> None:
    clocks = by_kind(case_clocks(case(advice={"H": advice("H", "nhs", date(2026, 2, 9), date(2026, 2, 12))}), RULES))
    assert clocks["decision"].due == date(2026, 2, 16)
    assert clocks["decision"].state(date(2026, 3, 1), 14) == "met"
    assert clocks["advice:H"].start == date(2026, 2, 12), "reg 8: six weeks from the adviser's receipt"
    assert clocks["advice:H"].due == date(2026, 3, 26)
    assert clocks["not-issue-notice"].due == date(2026, 4, 27)
    assert clocks["final-plan"].due == date(2026, 5, 25)


def test_states_and_alerts_before_and_at_breach() -> None:
    clock = by_kind(case_clocks(case(advice={"H": advice("H", "nhs", date(2026, 2, 9))}), RULES))["advice:H"]
    assert clock.state(date(2026, 3, 1), 14) == "running"
    assert clock.state(date(2026, 3, 10), 14) == "due-soon"
    assert clock.state(date(2026, 3, 24), 14) == "overdue"
    assert [a.severity for a in alerts_for(clock, date(2026, 3, 10), RULES)] == ["warning"]
    breach = alerts_for(clock, date(2026, 3, 24), RULES)
    assert [a.severity for a in breach] == ["warning", "breach"]
    assert breach[1].organisation is not None and breach[1].organisation.code == "RBS"
    assert alerts_for(clock, date(2026, 3, 24), RULES)[1].alert_id == breach[1].alert_id, "stable ids"


def test_school_closure_of_4_weeks_during_school_advice_window_excepts_the_16_and_20_week_limits() -> None:
    closure = {
        "exception_id": "X1",
        "kind": "school-closure",
        "start_date": date(2026, 2, 12),
        "end_date": date(2026, 3, 15),
        "request_id": None,
    }
    ctx = case(exceptions=[closure], advice={"S": advice("S", "school", date(2026, 2, 9))})
    clocks = by_kind(case_clocks(ctx, RULES))
    assert clocks["final-plan"].exceptions == ("school-closure:X1",)
    assert clocks["not-issue-notice"].exceptions == ("school-closure:X1",)
    assert clocks["advice:S"].exceptions == (), "reg 8(2) has no closure exception"
    short = dict(closure, end_date=date(2026, 3, 1))  # under 4 weeks: no exception
    clocks = by_kind(
        case_clocks(case(exceptions=[short], advice={"S": advice("S", "school", date(2026, 2, 9))}), RULES)
    )
    assert clocks["final-plan"].exceptions == ()


def test_closure_window_starts_a_week_before_closing() -> None:
    closure = {
        "exception_id": "X2",
        "kind": "school-closure",
        "start_date": date(2026, 2, 15),
        "end_date": date(2026, 3, 20),
        "request_id": None,
    }
    inside = case(exceptions=[closure], advice={"S": advice("S", "school", date(2026, 2, 9))})
    outside = case(exceptions=[closure], advice={"S": advice("S", "school", date(2026, 2, 7))})
    assert by_kind(case_clocks(inside, RULES))["final-plan"].exceptions
    assert not by_kind(case_clocks(outside, RULES))["final-plan"].exceptions


def test_missed_appointment_excepts_only_that_advice() -> None:
    missed = {
        "exception_id": "M",
        "kind": "missed-appointment",
        "start_date": date(2026, 3, 2),
        "end_date": date(2026, 3, 2),
        "request_id": "H",
    }
    ctx = case(
        exceptions=[missed],
        advice={"H": advice("H", "nhs", date(2026, 2, 9)), "S": advice("S", "school", date(2026, 2, 9))},
    )
    clocks = by_kind(case_clocks(ctx, RULES))
    assert clocks["advice:H"].exceptions == ("missed-appointment:M",)
    assert clocks["advice:S"].exceptions == ()
    assert clocks["final-plan"].exceptions == ()


def test_annual_review_within_12_months_of_the_plan_or_last_review() -> None:
    clocks = by_kind(
        case_clocks(
            case(panel_outcome="issue-plan", final_plan_date=date(2026, 5, 20), last_review_date=date(2027, 5, 1)),
            RULES,
        )
    )
    assert clocks["annual-review"].due == date(2028, 5, 1)
    assert "not-issue-notice" not in clocks
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_rules_are_configuration() -> None:
    rules = StatutoryRules(final_plan_weeks=18, warning_days=3)
    assert by_kind(case_clocks(case(), rules))["final-plan"].due == date(2026, 5, 11)


def test_timeliness_excludes_cases_with_exceptions() -> None:
    closure = {
        "exception_id": "X",
        "kind": "exceptional-personal-circumstances",
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 3, 30),
        "request_id": None,
    }
    cases = [
        case(case_id="A", final_plan_date=date(2026, 5, 1)),
        case(case_id="B", final_plan_date=date(2026, 6, 30)),
        case(case_id="C", final_plan_date=date(2026, 7, 30), exceptions=[closure]),
        case(case_id="D"),
        case(
            case_id="E",
            final_plan_date=date(2026, 9, 30),
            appeals={"AP": Appeal("AP", "E", "refusal-to-issue", registered_date=date(2026, 6, 1))},
        ),
        case(
            case_id="F",
            final_plan_date=date(2026, 5, 1),
            appeals={"AP": Appeal("AP", "F", "refusal-to-amend", registered_date=date(2027, 6, 1))},
        ),
    ]
    assert timeliness(cases, RULES) == {
        "plans_issued": 3,
        "within_20_weeks": 2,
        "excluded_with_exceptions": 1,
        "excluded_mediation_or_tribunal": 1,
        "percent_within_20_weeks": 66.7,
    }, "SEN2 counts no case with a tribunal at the assessment stage; a later appeal leaves it in"


CLOSURE = {
    "exception_id": "X",
    "kind": "school-closure",
    "start_date": date(2026, 1, 8),
    "end_date": date(2026, 2, 20),
}


def test_a_closure_excuses_the_decision_limit_only_where_the_school_was_asked_in_its_window() -> None:
    late_decision = {"decision_notified_date": date(2026, 2, 23)}  # after the 6 weeks (due 16 February)
    alone = by_kind(case_clocks(case(exceptions=[CLOSURE], **late_decision), RULES))["decision"]
    assert (alone.exceptions, alone.state(date(2026, 3, 1), 14)) == ((), "late"), "reg 5(4)(a): overlap alone"
    asked = case(exceptions=[CLOSURE], advice={"S": advice("S", "school", date(2026, 1, 12))}, **late_decision)
    decision = by_kind(case_clocks(asked, RULES))["decision"]
    assert (decision.exceptions, decision.state(date(2026, 3, 1), 14)) == (("school-closure:X",), "excepted")


def test_an_exception_excuses_nothing_without_the_las_judgement_that_the_limit_is_impractical() -> None:
    unjudged = {**CLOSURE, "limit_impractical": False}
    asked = {"S": advice("S", "school", date(2026, 1, 12))}
    late = case(exceptions=[unjudged], advice=asked, final_plan_date=date(2026, 6, 15))
    final = by_kind(case_clocks(late, RULES))["final-plan"]
    assert (final.exceptions, final.state(date(2026, 7, 1), 14)) == ((), "late")
    assert timeliness([late], RULES)["excluded_with_exceptions"] == 0, "the DfE figure follows the same rule"
    judged = case(exceptions=[CLOSURE], advice=asked, final_plan_date=date(2026, 6, 15))
    assert timeliness([judged], RULES)["excluded_with_exceptions"] == 1


def test_a_missed_appointment_with_no_request_named_excuses_no_adviser() -> None:
    unnamed = {
        "exception_id": "M",
        "kind": "missed-appointment",
        "start_date": date(2026, 3, 2),
        "end_date": date(2026, 3, 2),
    }
    ctx = case(exceptions=[unnamed], advice={"H": advice("H", "nhs", date(2026, 2, 9))})
    assert by_kind(case_clocks(ctx, RULES))["advice:H"].exceptions == ()


def test_the_familys_advice_has_no_reg_8_limit_only_a_reminder_to_the_la() -> None:
    family = AdviceRequest("P", "C-1", "parent-or-young-person", "family", "202", date(2026, 2, 9))
    clocks = case_clocks(case(advice={"P": family}), RULES)
    [reminder] = [c for c in clocks if c.request_id == "P"]
    assert (reminder.kind, reminder.statutory, reminder.agency, reminder.organisation) == (
        "family-advice",
        False,
        "la-sen",
        "202",
    )
    later = date(2026, 4, 1)
    assert reminder.state(later, 14) == "reminder"
    raised = alerts_for(reminder, later, RULES)
    assert [(a.kind, a.severity) for a in raised] == [("family-advice-reminder", "info")]
    assert raised[0].organisation is not None and raised[0].organisation.agency == "la-sen", "to the LA, not the family"


def test_a_clock_stops_on_the_notice_not_on_the_decision_or_the_panel() -> None:
    decided = case(decision_notified_date=None)
    decision = by_kind(case_clocks(decided, RULES))["decision"]
    assert (decision.stopped, decision.state(date(2026, 2, 17), 14)) == (None, "overdue"), "deciding is not notifying"
    panel = case(panel_date=date(2026, 4, 20), panel_outcome="not-issue-plan")
    clocks = by_kind(case_clocks(panel, RULES))
    assert clocks["not-issue-notice"].stopped is None, "a panel date stops nothing"
    notified = by_kind(case_clocks(case(not_issue_notified_date=date(2026, 4, 28)), RULES))
    assert (notified["not-issue-notice"].stopped, notified["not-issue-notice"].state(date(2026, 5, 1), 14)) == (
        date(2026, 4, 28),
        "late",
    ), "a notice in week 17 is late, whenever the panel sat"
    assert "final-plan" not in notified, "no final plan is due once the notice not to issue is sent"


def test_a_plan_is_reviewed_until_a_decision_to_cease_takes_effect() -> None:
    issued = {"panel_outcome": "issue-plan", "final_plan_date": date(2026, 5, 20)}
    assert "annual-review" in by_kind(case_clocks(case(**issued, ceased_date=date(2027, 6, 1)), RULES))
    assert "annual-review" not in by_kind(case_clocks(case(**issued, ceased_date=date(2027, 1, 1)), RULES))


def test_a_plan_sent_on_the_day_the_20_weeks_end_is_on_time_unless_configured_otherwise() -> None:
    boundary = date(2026, 5, 25)  # Day 1 is 5 January: 140 days later
    sent_on_the_day = case(panel_outcome="issue-plan", final_plan_date=boundary, final_plan_sent_date=boundary)
    [final] = [c for c in case_clocks(sent_on_the_day, RULES) if c.kind == "final-plan"]
    assert (final.due, final.state(boundary, 14)) == (boundary, "met")
    assert timeliness([sent_on_the_day], RULES)["within_20_weeks"] == 1
    strict = StatutoryRules(due_day_is_on_time=False)
    [final] = [c for c in case_clocks(sent_on_the_day, strict) if c.kind == "final-plan"]
    assert (final.due, final.state(boundary, 14)) == (date(2026, 5, 24), "late")
    assert timeliness([sent_on_the_day], strict)["within_20_weeks"] == 0
