"""Statutory clocks of one EHC case, computed from what the store knows and today's date.

Each clock has a start, a due date, the date it stopped (if it has) and the exceptions that
apply to it. A limit is met by telling the parent or young person, not by deciding: the decision
clock stops on the notice of the decision whether to assess (regs 4(1), 5(1)), the 16-week clock
on the notice not to issue (reg 10(1)), the 20-week clock when the final plan is sent (reg 13(2):
its notice, or the plan recorded as issued). A panel date or a decision date stops nothing.

The rules for exceptions follow the regulations (domain.md 1.3):

- decision whether to assess, reg 5(4): advice requested from a school or post-16 institution
  inside the window of a closure of at least 4 weeks (1 week before closing to 1 week before
  reopening); exceptional personal circumstances; absence from the area of at least 4 weeks.
- each adviser's advice, reg 8(2): exceptional circumstances, absence of at least 4 continuous
  weeks, and a missed appointment only for the body whose appointment it was. A waiting list is
  not an exception. The parent's or young person's own advice (reg 6(1)(a)) has no reg 8 limit:
  its clock is the LA's own reminder, never late and never alerted as a breach.
- notice not to issue and the final plan, regs 10(4) and 13(3): advice requested from a school
  (or early-years provider) inside a closure window; exceptional personal circumstances;
  absence of at least 4 continuous weeks.

Each regulation disapplies a limit only where meeting it is impractical because of the exception,
so an exception counts only once the LA has recorded that judgement (``limit_impractical``);
before then it is on record and excuses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from hub.domain.clock import Clock, add_months, last_day
from hub.domain.disputes import dispute_clocks, sen2_flags
from hub.domain.lifecycle import plan_clocks
from hub.domain.state import Case, CaseException
from hub.settings import StatutoryRules

__all__ = ["Clock", "add_months", "case_clocks", "last_day", "timeliness"]

PERSONAL = ("exceptional-personal-circumstances",)
ABSENCE = "absent-from-area"
FAMILY = "family"


def _overlaps(a_start: date, a_end: date, b_start: date, b_end: date) -> bool:
    return a_start <= b_end and b_start <= a_end


def _weeks(e: CaseException) -> float:
    return ((e.end_date - e.start_date).days + 1) / 7


def _closure_window(e: CaseException, rules: StatutoryRules) -> tuple[date, date]:
    offset = timedelta(days=rules.closure_window_offset_days)
    return e.start_date - offset, e.end_date + timedelta(days=1) - offset


def _long_closures(
    exceptions: Iterable[CaseException], kinds: tuple[str, ...], rules: StatutoryRules
) -> list[CaseException]:
    return [e for e in exceptions if e.kind in kinds and _weeks(e) >= rules.closure_min_weeks]


def _personal(exceptions: Iterable[CaseException], start: date, end: date, rules: StatutoryRules) -> list[str]:
    found = []
    for e in exceptions:
        if not _overlaps(e.start_date, e.end_date, start, end):
            continue
        if e.kind in PERSONAL or (e.kind == ABSENCE and _weeks(e) >= rules.absence_min_weeks):
            found.append(f"{e.kind}:{e.exception_id}")
    return found


def _requested_in_closure(
    case: Case, exceptions: Iterable[CaseException], kinds: tuple[str, ...], by: date, rules: StatutoryRules
) -> list[str]:
    """Closures of at least the minimum length in whose window the LA asked the school for advice
    (on or before ``by``): the only way a closure excuses a limit (regs 5(4)(a), 10(4), 13(3))."""
    return sorted(
        {
            f"{e.kind}:{e.exception_id}"
            for e in _long_closures(exceptions, kinds, rules)
            for r in case.advice.values()
            if r.recipient_agency == "school"
            and not r.reused
            and r.requested_date <= by
            and _closure_window(e, rules)[0] <= r.requested_date <= _closure_window(e, rules)[1]
        }
    )


def case_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    """Every clock of one case: the assessment's, the plan's once issued, and any dispute's."""
    return assessment_clocks(case, rules) + plan_clocks(case, rules) + dispute_clocks(case, rules)


def assessment_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    received = case.received_date
    if received is None:
        return []
    cid = case.case_id
    exceptions = [e for e in case.exceptions if e.limit_impractical]
    advice = case.advice
    clocks: list[Clock] = []

    decision_due = last_day(received, rules.decision_weeks, rules)
    reasons = _requested_in_closure(case, exceptions, ("school-closure",), decision_due, rules)
    reasons += _personal(exceptions, received, decision_due, rules)
    clocks.append(
        Clock(
            f"{cid}:decision",
            cid,
            "decision",
            received,
            decision_due,
            case.decision_notified_date,
            tuple(reasons),
            agency="la-sen",
            organisation=case.la_code,
        )
    )

    for request in sorted(advice.values(), key=lambda r: r.request_id):
        if request.reused or request.review_id:  # a review's advice is timed by its meeting
            continue
        start = request.received_date or request.requested_date
        due = last_day(start, rules.advice_weeks, rules)
        if request.recipient_agency == FAMILY:  # reg 8 binds the bodies asked, not the family
            clocks.append(
                Clock(
                    f"{cid}:family-advice:{request.request_id}",
                    cid,
                    "family-advice",
                    start,
                    due,
                    request.submitted_date,
                    agency="la-sen",
                    organisation=case.la_code,
                    request_id=request.request_id,
                    advice_kind=request.advice_kind,
                    advice_received=True,
                    statutory=False,
                )
            )
            continue
        linked = [e for e in exceptions if e.request_id in (None, request.request_id)]
        reasons = _personal(linked, start, due, rules)
        reasons += [
            f"missed-appointment:{e.exception_id}"
            for e in linked
            if e.kind == "missed-appointment"
            and e.request_id == request.request_id
            and _overlaps(e.start_date, e.end_date, start, due)
        ]
        clocks.append(
            Clock(
                f"{cid}:advice:{request.request_id}",
                cid,
                "advice",
                start,
                due,
                request.submitted_date,
                tuple(reasons),
                agency=request.recipient_agency,
                organisation=request.recipient_code,
                request_id=request.request_id,
                advice_kind=request.advice_kind,
                advice_received=request.received_date is not None,
            )
        )

    if case.decision == "not-assess":
        return clocks
    requested_in_window = _requested_in_closure(
        case,
        exceptions,
        ("school-closure", "early-years-closure"),
        last_day(received, rules.final_plan_weeks, rules),
        rules,
    )
    for kind, weeks, stopped in (
        (
            "not-issue-notice",
            rules.not_issue_weeks,
            case.not_issue_notified_date,
        ),
        ("final-plan", rules.final_plan_weeks, case.final_plan_sent_date or case.final_plan_date),
    ):
        if kind == "not-issue-notice" and case.panel_outcome == "issue-plan":
            continue  # no notice is due once the panel decided to issue a plan
        if kind == "final-plan" and (case.panel_outcome == "not-issue-plan" or case.not_issue_notified_date):
            continue
        due = last_day(received, weeks, rules)
        reasons = sorted(set(requested_in_window + _personal(exceptions, received, due, rules)))
        clocks.append(
            Clock(
                f"{cid}:{kind}",
                cid,
                kind,
                received,
                due,
                stopped,
                tuple(reasons),
                agency="la-sen",
                organisation=case.la_code,
            )
        )

    return clocks


def timeliness(cases: Iterable[Case], rules: StatutoryRules) -> dict[str, int | float | None]:
    """The DfE headline: of new plans issued, the share issued within 20 weeks, excluding cases
    where a permitted exception applied to the final-plan time limit, and (as SEN2 counts it)
    cases where mediation or a tribunal took place at the request or assessment stage."""
    issued = within = excluded = disputed = 0
    for case in cases:
        final = next((c for c in assessment_clocks(case, rules) if c.kind == "final-plan"), None)
        if final is None or final.stopped is None:
            continue
        flags = sen2_flags(case)
        if any(flags[f"{stage}{kind}"] for stage in ("Request", "Assessment") for kind in ("Mediation", "Tribunal")):
            disputed += 1
            continue
        if final.exceptions:
            excluded += 1
            continue
        issued += 1
        within += final.stopped <= final.due
    return {
        "plans_issued": issued,
        "within_20_weeks": within,
        "excluded_with_exceptions": excluded,
        "excluded_mediation_or_tribunal": disputed,
        "percent_within_20_weeks": round(100 * within / issued, 1) if issued else None,
    }
