"""The plan after it is issued: its reviews (CFA s44, SEND Regs 18-22) and reassessments (regs
23-27), the amended plan either leads to, and moves between phases of education.

Each step of a review is recorded as it happens and judged against the plan. Scheduling a
review asks the invited bodies for their advice through the same fan-out as an assessment, due
in time for the LA to circulate it two weeks before the meeting (regs 20(4), 21(4)); the meeting
restarts the twelve months to the next review; from Year 9 it must have considered preparing for
adulthood (reg 21(6)). A final amended plan may not come before the parent or young person has
had their days for representations on the proposed amendments (reg 22(2)(c)).
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import TypeVar

from hub.domain.facts import AdviceRequestOpened, CaseUpdate, Outcome, RuleViolation
from hub.domain.fanout import ADVICE_FROM_AGENCY, curriculum_year, request_advice
from hub.domain.ids import derived_id
from hub.domain.judging import Judging, judge, not_before
from hub.domain.state import Appeal, Case, LaTransfer, PersonalBudget, PhaseTransfer, Review
from schemas.common import Agency, OrganisationRef
from schemas.events import (
    AdviceRequested,
    AlertRaised,
    AssessmentDecisionMade,
    PhaseTransferRecorded,
    ReassessmentRecorded,
    ReviewDecision,
    ReviewRecorded,
    ReviewStep,
)

_STEP_DATE = {
    ReviewStep.SCHEDULED: "scheduled_date",
    ReviewStep.ADVICE_CIRCULATED: "advice_circulated_date",
    ReviewStep.HELD: "held_date",
    ReviewStep.REPORT_SENT: "report_sent_date",
    ReviewStep.DECISION_NOTIFIED: "decision_notified_date",
    ReviewStep.AMENDMENTS_PROPOSED: "amendments_proposed_date",
}


Steps = TypeVar("Steps", Review, Appeal, PersonalBudget, LaTransfer)


def merged(known: Steps | None, step: Steps) -> Steps:
    """A review, dispute, budget request or move with a newly recorded step: what was recorded
    first stands."""
    if known is None:
        return step
    given = {
        f.name: getattr(step, f.name)
        for f in dataclasses.fields(step)
        if getattr(known, f.name) is None and getattr(step, f.name) is not None
    }
    return dataclasses.replace(known, **given)


def plan_in_force(case: Case, event_date: date, field: str) -> None:
    if case.final_plan_date is None:
        raise RuleViolation(
            f"case {case.case_id!r} has no plan issued to review or amend",
            field=field,
            rule="plan-issued",
            retryable=True,
        )
    not_before(event_date, case.final_plan_date, field.removeprefix("data."), "the plan issued", "after-plan-issued")


@judge.register
def _review(event: ReviewRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    plan_in_force(case, event.step_date, "data.step_date")
    known = case.reviews.get(event.review_id)
    meeting = event.meeting() or (known.meeting() if known else None)
    if event.step in (ReviewStep.REPORT_SENT, ReviewStep.DECISION_NOTIFIED, ReviewStep.AMENDMENTS_PROPOSED):
        held = known.held_date if known else None
        if held is None:
            raise RuleViolation(
                f"review {event.review_id!r} has no meeting recorded as held",
                field="data.step",
                rule="review-held",
                retryable=True,
            )
        not_before(event.step_date, held, "step_date", "the meeting", "after-meeting")
    step = Review(
        event.review_id,
        event.case_id,
        review_type=event.review_type,
        meeting_date=meeting,
        decision=event.decision.value if event.decision else None,
        pfa_considered=event.pfa_considered,
        **{_STEP_DATE[event.step]: event.step_date},  # type: ignore[arg-type]
    )
    if event.step == ReviewStep.DECISION_NOTIFIED and event.decision == ReviewDecision.AMEND and known is not None:
        # a decision to amend is notified with the proposed amendments (reg 22(2)(b))
        step = dataclasses.replace(step, amendments_proposed_date=known.amendments_proposed_date or event.step_date)
    out.reviews.append(step)
    if event.step == ReviewStep.SCHEDULED:
        assert meeting is not None, "a scheduled review names its meeting"
        _ask_for_advice(event, case, meeting, j, out)
    elif event.step == ReviewStep.HELD:
        out.case = CaseUpdate(last_review_date=event.step_date)
        _preparing_for_adulthood(event, case, j, out)


def _ask_for_advice(event: ReviewRecorded, case: Case, meeting: date, j: Judging, out: Outcome) -> None:
    """The invited bodies' advice, due when the LA must circulate it (regs 20(4), 21(4))."""
    assert case.person is not None, "a case with a received date was opened with its person"
    due = max(event.step_date, meeting - timedelta(weeks=j.rules.review_circulation_weeks))
    for org in event.invitees:
        kind = ADVICE_FROM_AGENCY.get(org.agency)
        if kind is None or org.agency == Agency.FAMILY:  # the family is invited; its views are not a body's advice
            continue
        request = AdviceRequested(
            case_id=event.case_id,
            request_id=derived_id(j.event_id, f"review-advice:{org.agency.value}:{org.code}"),
            advice_kind=kind,
            recipient=org,
            person=case.person,
            requested_date=event.step_date,
            due_date=due,
            review_id=event.review_id,
        )
        out.emitted.append(request)
        out.advice_opened.append(
            AdviceRequestOpened(
                request.request_id,
                event.case_id,
                kind.value,
                org,
                event.step_date,
                request=request,
                review_id=event.review_id,
            )
        )


def _preparing_for_adulthood(event: ReviewRecorded, case: Case, j: Judging, out: Outcome) -> None:
    """From Year 9 a review must consider preparing for adulthood (reg 21(6)); it is also when
    children's services consider a transition assessment (CoP 8.9, Care Act s58(1))."""
    born = case.person.date_of_birth if case.person else None
    year = curriculum_year(born, event.step_date) if born else case.year_group
    if year is None or year < j.rules.pfa_from_year_group:
        return
    la = OrganisationRef(agency=Agency.LA_SEN, code=event.la_code)
    if not event.pfa_considered:
        out.emitted.append(
            j.alert(
                "pfa-not-considered",
                case_id=event.case_id,
                kind="review-without-preparing-for-adulthood",
                severity="warning",
                organisation=la,
                message=f"review {event.review_id} held in Year {year} without considering preparation for "
                "adulthood and independent living (reg 21(6))",
            )
        )
    if event.review_type == "year-9":
        out.emitted.append(transition_consideration(event.case_id, event.la_code, j))


def transition_consideration(case_id: str, la_code: str, j: Judging) -> AlertRaised:
    return j.alert(
        "consider-transition",
        case_id=case_id,
        kind="transition-consideration-due",
        severity="info",
        organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=la_code),
        message="Year 9 review held: consider whether the young person is likely to need care and support "
        "after 18 (Care Act s58(1))",
    )


def amended(case: Case, issued: date, j: Judging, field: str) -> Review | None:
    """The review or reassessment a final amended plan (or its notice) completes, checked against
    the days for representations on the proposed amendments; None for an amendment outside both."""
    open_reviews = [
        r
        for r in case.reviews.values()
        if r.amended_plan_date is None
        and (r.amendments_proposed_date is not None or r.decision in ("amend", "reassess"))
    ]
    if not open_reviews:
        return None
    review = max(
        open_reviews, key=lambda r: r.amendments_proposed_date or r.held_date or r.decision_notified_date or date.min
    )
    proposed = review.amendments_proposed_date
    if proposed is not None and issued < proposed + timedelta(days=j.rules.representations_days):
        earliest = proposed + timedelta(days=j.rules.representations_days)
        raise RuleViolation(
            f"the amended plan may be issued from {earliest}: the proposed amendments were sent on {proposed} "
            f"and reg 22(2)(c) allows {j.rules.representations_days} days for representations",
            field=field,
            rule="representations-window",
        )
    return dataclasses.replace(
        Review(review.review_id, review.case_id, review_type=review.review_type), amended_plan_date=issued
    )


@judge.register
def _transfer(event: PhaseTransferRecorded, j: Judging, out: Outcome) -> None:
    j.case(event)
    if event.next_institution is not None and event.next_institution.agency != Agency.SCHOOL:
        raise RuleViolation(
            "the next institution is a school or college (agency 'school', its URN or UKPRN)",
            field="data.next_institution.agency",
            rule="institution-is-a-school",
        )
    out.transfers.append(
        PhaseTransfer(
            event.transfer_id,
            event.case_id,
            event.transfer_kind.value,
            event.transfer_date,
            event.next_institution.code if event.next_institution else None,
        )
    )


@judge.register
def _reassessment(event: ReassessmentRecorded, j: Judging, out: Outcome) -> None:
    """A reassessment asks for the advice again, as an assessment does (reg 26 applies regs 6-10);
    the amended or replaced plan is then due within 14 weeks of the decision (reg 27(2))."""
    case = j.case(event)
    plan_in_force(case, event.step_date, "data.step_date")
    known = case.reviews.get(event.reassessment_id)
    if event.step == "decision-notified" and (known is None or known.requested_date is None):
        raise RuleViolation(
            f"no request for reassessment {event.reassessment_id!r} has been recorded",
            field="data.reassessment_id",
            rule="reassessment-requested",
            retryable=True,
        )
    if known is not None and known.requested_date is not None:
        not_before(event.step_date, known.requested_date, "step_date", "the request", "after-request")
    out.reviews.append(
        Review(
            event.reassessment_id,
            event.case_id,
            review_type="reassessment",
            requested_date=event.step_date if event.step == "requested" else None,
            decision=event.decision,
            decision_notified_date=event.step_date if event.step == "decision-notified" else None,
        )
    )
    if event.decision == "reassess":
        decision = AssessmentDecisionMade(
            case_id=event.case_id,
            la_code=event.la_code,
            decision="assess",
            decision_date=event.step_date,
            advisers=event.advisers,
        )
        request_advice(decision, case, j, out)
