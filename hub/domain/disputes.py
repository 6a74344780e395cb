"""Mediation and appeals to the First-tier Tribunal (SEND), and personal budget requests.

An appeal the LA concedes before responding is unopposed (reg 45, as substituted by SI 2015/359),
and its limits run from the day the LA told the Tribunal:

- against a refusal to assess or reassess (CFA s51(2)(a), (d)): tell the family within 2 weeks
  that it will assess; then notify a decision not to issue within 10 weeks, or send the final
  plan within 14;
- against a refusal to issue a plan (s51(2)(b)): the draft within 5 weeks, the final within 11;
- against the plan's contents or a refusal to amend (s51(2)(c)(i)(ii), (e)): the amended plan
  within 5 weeks; against only the institution named (s51(2)(c)(iii)): within 2 weeks.

A tribunal order carries the date it must be complied with. The LA records what it did
(``complied``), which stops the clock. A limit need not be met where exceptional personal
circumstances, or an absence from the area of at least two weeks, make it impractical.

The DfE's 20-week timeliness figure leaves out cases where mediation or a tribunal took place at
the request or assessment stage; ``sen2_flags`` says which SEN2 flags a case carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from hub.domain.clock import Clock
from hub.domain.facts import Outcome, RuleViolation
from hub.domain.judging import Judging, judge, not_before
from hub.domain.state import Appeal, Case, CaseException, PersonalBudget
from hub.settings import StatutoryRules
from schemas.events import AppealRecorded, AppealStep, PersonalBudgetRecorded

_STEP_DATE = {
    AppealStep.MEDIATION_REQUESTED: "mediation_requested_date",
    AppealStep.MEDIATION_CERTIFICATE: "certificate_date",
    AppealStep.APPEAL_REGISTERED: "registered_date",
    AppealStep.CONCEDED: "conceded_date",
    AppealStep.ORDER_MADE: "order_date",
    AppealStep.CONCLUDED: "concluded_date",
}
_COMPLIED_DATE = {
    "assessment-notice": "assessment_notice_date",
    "not-to-issue-notice": "not_to_issue_notice_date",
    "draft-plan": "draft_plan_date",
    "final-plan": "final_plan_date",
    "amended-plan": "amended_plan_date",
    "order": "order_complied_date",
}
REQUEST_STAGE = {"refusal-to-assess"}
ASSESSMENT_STAGE = {"refusal-to-issue", "plan-contents", "named-institution"}


@judge.register
def _appeal(event: AppealRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    known = case.appeals.get(event.appeal_id)
    if known is not None and known.subject != event.subject.value:
        raise RuleViolation(
            f"appeal {event.appeal_id!r} is about {known.subject}, not {event.subject.value}",
            field="data.subject",
            rule="same-subject",
        )
    if event.step in (AppealStep.CONCEDED, AppealStep.ORDER_MADE):
        registered = known.registered_date if known else None
        if registered is None:
            raise RuleViolation(
                f"appeal {event.appeal_id!r} has not been recorded as registered with the Tribunal",
                field="data.step",
                rule="appeal-registered",
            )
        not_before(event.step_date, registered, "step_date", "the appeal registered", "after-registration")
    if event.step == AppealStep.COMPLIED:
        assert event.complied_with is not None
        field = _COMPLIED_DATE[event.complied_with]
    else:
        field = _STEP_DATE[event.step]
    out.appeals.append(
        Appeal(
            event.appeal_id,
            event.case_id,
            event.subject.value,
            order_due_date=event.order_due_date,
            **{field: event.step_date},  # type: ignore[arg-type]
        )
    )


@judge.register
def _budget(event: PersonalBudgetRecorded, j: Judging, out: Outcome) -> None:
    """A personal budget is asked for when a plan is drafted, reviewed or reassessed (CFA s49(1))."""
    case = j.case(event)
    known = case.budgets.get(event.budget_id)
    if event.step == "decided" and (known is None or known.requested_date is None):
        raise RuleViolation(
            f"no request for personal budget {event.budget_id!r} has been recorded",
            field="data.budget_id",
            rule="budget-requested",
            retryable=True,
        )
    if event.requested_at is not None and not _in_progress(case, event.requested_at):
        raise RuleViolation(
            f"a personal budget is requested at a {event.requested_at}, and this case has none under way",
            field="data.requested_at",
            rule="budget-when-plan-prepared",
            retryable=True,
        )
    out.budgets.append(
        PersonalBudget(
            event.budget_id,
            event.case_id,
            requested_at=event.requested_at,
            requested_date=event.step_date if event.step == "requested" else None,
            decision=event.decision,
            decided_date=event.step_date if event.step == "decided" else None,
            direct_payments=event.direct_payments,
        )
    )


def _in_progress(case: Case, stage: str) -> bool:
    if stage == "draft":
        return case.draft_date is not None or case.draft_served_date is not None
    reassessment = stage == "reassessment"
    return any((r.review_type == "reassessment") == reassessment for r in case.reviews.values())


def dispute_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    clocks: list[Clock] = []
    for appeal in sorted(case.appeals.values(), key=lambda a: a.appeal_id):
        conceded = appeal.conceded_date
        if conceded is not None:
            for kind, weeks, stopped in _unopposed_limits(appeal, rules):
                due = conceded + timedelta(weeks=weeks)
                clocks.append(_clock(case, appeal, kind, conceded, due, stopped, rules))
        if appeal.order_date is not None and appeal.order_due_date is not None:
            clocks.append(
                _clock(
                    case,
                    appeal,
                    "tribunal-order",
                    appeal.order_date,
                    appeal.order_due_date,
                    appeal.order_complied_date,
                    rules,
                )
            )
    return clocks


def _unopposed_limits(appeal: Appeal, rules: StatutoryRules) -> list[tuple[str, int, date | None]]:
    subject = appeal.subject
    if subject in ("refusal-to-assess", "refusal-to-reassess"):
        limits = [
            ("unopposed-assessment-notice", rules.unopposed_assessment_notice_weeks, appeal.assessment_notice_date)
        ]
        if appeal.final_plan_date is None:  # whichever the LA reaches: a notice not to issue, or the plan
            limits.append(
                ("unopposed-not-to-issue", rules.unopposed_not_to_issue_weeks, appeal.not_to_issue_notice_date)
            )
        if appeal.not_to_issue_notice_date is None:
            limits.append(("unopposed-final-plan", rules.unopposed_final_plan_weeks, appeal.final_plan_date))
        return limits
    if subject == "refusal-to-issue":
        return [
            ("unopposed-draft-plan", rules.unopposed_draft_weeks, appeal.draft_plan_date),
            ("unopposed-final-plan", rules.unopposed_issue_final_weeks, appeal.final_plan_date),
        ]
    if subject in ("plan-contents", "refusal-to-amend"):
        return [("unopposed-amended-plan", rules.unopposed_amended_plan_weeks, appeal.amended_plan_date)]
    if subject == "named-institution":
        return [("unopposed-amended-plan", rules.unopposed_institution_weeks, appeal.amended_plan_date)]
    return []  # a conceded appeal against ceasing: the plan is maintained, with no new limit


def _clock(
    case: Case, appeal: Appeal, kind: str, start: date, due: date, stopped: date | None, rules: StatutoryRules
) -> Clock:
    return Clock(
        f"{case.case_id}:{kind}:{appeal.appeal_id}",
        case.case_id,
        kind,
        start,
        due,
        stopped,
        tuple(_excusing(case.exceptions, start, due, rules)),
        agency="la-sen",
        organisation=case.owner,
    )


def _excusing(exceptions: Iterable[CaseException], start: date, end: date, rules: StatutoryRules) -> list[str]:
    found = []
    for e in exceptions:
        if not e.limit_impractical or e.end_date < start or e.start_date > end:
            continue
        weeks = ((e.end_date - e.start_date).days + 1) / 7
        if e.kind == "exceptional-personal-circumstances" or (
            e.kind == "absent-from-area" and weeks >= rules.unopposed_absence_min_weeks
        ):
            found.append(f"{e.kind}:{e.exception_id}")
    return found


def sen2_flags(case: Case) -> dict[str, bool]:
    """SEN2's mediation and tribunal flags: at the request (a refusal to assess), at the assessment
    (a refusal to issue, or the contents of the plan it led to), and otherwise."""
    flags = {
        f"{stage}{kind}": False for stage in ("Request", "Assessment", "Other") for kind in ("Mediation", "Tribunal")
    }
    for appeal in case.appeals.values():
        stage = (
            "Request"
            if appeal.subject in REQUEST_STAGE
            else "Assessment"
            if appeal.subject in ASSESSMENT_STAGE
            else "Other"
        )
        if appeal.mediation_requested_date or appeal.certificate_date:
            flags[f"{stage}Mediation"] = True
        if appeal.registered_date:
            flags[f"{stage}Tribunal"] = True
    return flags
