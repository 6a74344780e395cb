"""The EHC workflow's rules: what each event means for its case, and what it must not contradict.

Pure functions of the event and the case as the store knows it, so they can be tested with plain
data and replayed by ``hub rebuild``. A ``RuleViolation`` names the field and the rule; it is
``retryable`` when the missing fact may simply not have arrived yet (events for one case travel
on several topics), and final when the event contradicts what is already recorded.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from hub.domain import (  # noqa: F401  (register the handlers for their events)
    corrections,
    disputes,
    la_transfers,
    notices,
    reviews,
    transitions,
)
from hub.domain.facts import AdviceProgress, CaseUpdate, Outcome, RuleViolation
from hub.domain.fanout import request_advice
from hub.domain.judging import Judging, judge, not_before
from hub.domain.reviews import amended, merged, plan_in_force, transition_consideration
from hub.domain.state import AdviceRequest, Case, CaseException, Context
from hub.domain.transitions import eighteenth_birthday
from hub.settings import StatutoryRules
from schemas.common import Agency, OrganisationRef
from schemas.events import (
    AdviceRequestReceived,
    AdviceRequestStatusChanged,
    AdviceSubmitted,
    AssessmentDecisionMade,
    AssessmentRequested,
    CaseExceptionRecorded,
    CeaseReason,
    Event,
    ExceptionKind,
    PanelOutcomeRecorded,
    PlanEventKind,
    PlanRecorded,
)

__all__ = ["RuleViolation", "evaluate", "evolve"]


def evaluate(
    event: Event,
    context: Context | None,
    rules: StatutoryRules,
    *,
    event_id: str,
    person_keys: Sequence[str | None] = (),
) -> Outcome:
    """Check ``event`` against its case (or referral) and work out its consequences.

    ``person_keys`` are the identity keys of the people ``persons_in(event)`` names, in order.
    """
    _refuse_control_characters(event)
    out = Outcome()
    judge(event, Judging(context, rules, event_id, person_keys), out)
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse_control_characters(event: Event) -> None:
    """An identifier with a NUL, a line break or another control character cannot be shown, logged
    or matched reliably, so it is refused rather than stored as given."""
    for name in type(event).model_fields:
        value = getattr(event, name)
        if (name.endswith("_id") or name == "la_code") and isinstance(value, str) and _CONTROL.search(value):
            raise RuleViolation(f"{name} contains a control character", field=f"data.{name}", rule="control-characters")


def evolve(case: Case | None, case_id: str, event: Event, outcome: Outcome) -> Case:
    """The case as it will be once ``event`` is stored, for judging later events before it is:
    a file may open a case and decide it. Facts recorded once keep their first value."""
    case = case or Case(case_id)
    if isinstance(event, AssessmentRequested) and case.received_date is None:
        case = dataclasses.replace(case, received_date=event.received_date, la_code=event.la_code)
    if outcome.case is not None:
        unset = {k: v for k, v in outcome.case.given().items() if k in _CASE_FIELDS and getattr(case, k) is None}
        case = dataclasses.replace(case, **unset)  # type: ignore[arg-type]
    if outcome.advice_opened:
        advice = dict(case.advice)
        for opened in outcome.advice_opened:
            advice.setdefault(
                opened.request_id,
                AdviceRequest(
                    opened.request_id,
                    opened.case_id,
                    opened.advice_kind,
                    opened.recipient.agency.value,
                    opened.recipient.code,
                    opened.requested_date,
                    reused=opened.reused is not None,
                    review_id=opened.review_id,
                ),
            )
        case = dataclasses.replace(case, advice=advice)
    for name in ("reviews", "appeals", "la_transfers", "budgets"):  # each keyed by its first field
        if steps := getattr(outcome, name):
            recorded: dict[str, Any] = dict(getattr(case, name))
            for step in steps:
                key = getattr(step, dataclasses.fields(step)[0].name)
                recorded[key] = merged(recorded.get(key), step)
            case = dataclasses.replace(case, **{name: recorded})  # type: ignore[arg-type]
    if outcome.transfers:
        known = {t.transfer_id for t in case.transfers}
        case = dataclasses.replace(
            case, transfers=case.transfers + tuple(t for t in outcome.transfers if t.transfer_id not in known)
        )
    return case


_CASE_FIELDS = {f.name for f in dataclasses.fields(Case)}


def _request(
    case: Case,
    event: AdviceSubmitted | AdviceRequestReceived | AdviceRequestStatusChanged | CaseExceptionRecorded,
) -> AdviceRequest:
    assert event.request_id is not None
    request = case.advice.get(event.request_id)
    if request is None:
        raise RuleViolation(
            f"no advice request {event.request_id!r} was made for case {event.case_id!r}",
            field="data.request_id",
            rule="known-advice-request",
            retryable=True,
        )
    return request


@judge.register
def _assessment_requested(event: AssessmentRequested, j: Judging, out: Outcome) -> None:
    out.case = CaseUpdate(
        person=event.person,
        person_key=j.first_person(),
        year_group=event.year_group,
        school_code=event.school.code if event.school is not None else None,
    )


@judge.register
def _decision(event: AssessmentDecisionMade, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    assert case.received_date is not None
    not_before(
        event.decision_date, case.received_date, "decision_date", "the request received", "decision-after-request"
    )
    out.case = CaseUpdate(decision=event.decision, decision_date=event.decision_date)
    if event.decision == "assess":
        request_advice(event, case, j, out)


@judge.register
def _advice_received(event: AdviceRequestReceived, j: Judging, out: Outcome) -> None:
    request = _request(j.case(event), event)
    not_before(event.received_date, request.requested_date, "received_date", "the request", "received-after-request")
    out.advice_progress.append(AdviceProgress(event.request_id, received_date=event.received_date))


@judge.register
def _advice_status(event: AdviceRequestStatusChanged, j: Judging, out: Outcome) -> None:
    request = _request(j.case(event), event)
    if request.submitted_date:
        raise RuleViolation(
            f"advice for request {event.request_id!r} was already submitted", field="data.status", rule="request-open"
        )
    not_before(event.changed_date, request.requested_date, "changed_date", "the request", "change-after-request")
    rejected = event.status == "rejected"
    out.advice_progress.append(
        AdviceProgress(
            event.request_id,
            task_status=event.status,
            status_reason=event.reason,
            # accepting or starting work shows the request was received
            received_date=None if rejected else event.changed_date,
        )
    )
    if rejected:
        out.emitted.append(
            j.alert(
                "advice-rejected",
                case_id=event.case_id,
                kind="advice-request-rejected",
                severity="warning",
                organisation=event.changed_by,
                message=f"{request.advice_kind} advice request rejected by {event.changed_by.code}: {event.reason}",
            )
        )


@judge.register
def _advice_submitted(event: AdviceSubmitted, j: Judging, out: Outcome) -> None:
    request = _request(j.case(event), event)
    if request.submission_event_id and request.submission_event_id != j.event_id:
        raise RuleViolation(
            f"advice for request {event.request_id!r} was already submitted on {request.submitted_date}",
            field="data.request_id",
            rule="single-submission",
        )
    not_before(event.submitted_date, request.requested_date, "submitted_date", "the request", "submitted-after-request")
    out.advice_progress.append(
        AdviceProgress(
            event.request_id,
            submitted_date=event.submitted_date,
            submission_event_id=j.event_id,
            signed_off=event.signed_off_by is not None,
            # Advice submitted without a recorded receipt was evidently received by then.
            received_date=request.received_date or event.submitted_date,
        )
    )


@judge.register
def _exception(event: CaseExceptionRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    if event.kind == ExceptionKind.MISSED_APPOINTMENT and event.request_id is None:
        raise RuleViolation(
            "a missed appointment excuses only the body whose appointment was missed (reg 8(2)(c)): "
            "name its advice request",
            field="data.request_id",
            rule="missed-appointment-names-request",
        )
    if event.request_id is not None:
        _request(case, event)
    out.exceptions.append(
        CaseException(
            exception_id=event.exception_id,
            case_id=event.case_id,
            kind=event.kind.value,
            start_date=event.start_date,
            end_date=event.end_date,
            request_id=event.request_id,
            recorded_by=event.recorded_by,
            limit_impractical=event.limit_impractical,
        )
    )


@judge.register
def _panel(event: PanelOutcomeRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    assert case.received_date is not None
    not_before(event.panel_date, case.received_date, "panel_date", "the request received", "panel-after-request")
    out.case = CaseUpdate(panel_date=event.panel_date, panel_outcome=event.outcome)


_PLAN_DATE = {
    PlanEventKind.DRAFTED: "draft_date",
    PlanEventKind.ISSUED: "final_plan_date",
    PlanEventKind.REVIEWED: "last_review_date",
    PlanEventKind.AMENDED: "plan_sections_date",
    PlanEventKind.CEASED: "cease_decided_date",
}
NO_REVIEW_NEEDED_TO_CEASE = (CeaseReason.MOVED_TO_ANOTHER_LA, CeaseReason.REACHED_25)


@judge.register
def _plan(event: PlanRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    assert case.received_date is not None
    not_before(event.event_date, case.received_date, "event_date", "the request received", "plan-after-request")
    if event.kind == PlanEventKind.AMENDED:
        plan_in_force(case, event.event_date, "data.event_date")
    if event.kind == PlanEventKind.CEASED:
        _may_cease(event, case, j, out)
    update = CaseUpdate(**{_PLAN_DATE[event.kind]: event.event_date})  # type: ignore[arg-type]
    if event.kind in (PlanEventKind.ISSUED, PlanEventKind.REVIEWED, PlanEventKind.AMENDED):
        update = dataclasses.replace(update, plan_sections=event.sections, plan_sections_date=event.event_date)
    out.case = update
    if event.review_type == "year-9":  # preparing for adulthood starts at the Year 9 review (CoP 8.9)
        out.emitted.append(transition_consideration(event.case_id, event.la_code, j))
    if event.kind == PlanEventKind.AMENDED and (review := amended(case, event.event_date, j, "data.event_date")):
        out.reviews.append(review)


def _may_cease(event: PlanRecorded, case: Case, j: Judging, out: Outcome) -> None:
    """Reg 30: a plan for a young person of 18 or over ceases only after a review that considered
    whether its outcomes are achieved or they no longer wish to engage; the reason is recorded as
    SEN2 codes it (reg 29)."""
    born = case.person.date_of_birth if case.person else None
    if born is not None and event.event_date >= eighteenth_birthday(born):
        reviewed = case.last_review_date is not None and case.last_review_date >= eighteenth_birthday(born)
        if not reviewed and event.cease_reason not in NO_REVIEW_NEEDED_TO_CEASE:
            raise RuleViolation(
                "a plan for a young person of 18 or over ceases only after a review held since they turned 18 "
                "(SEND Regs reg 30)",
                field="data.event_date",
                rule="review-before-ceasing",
            )
    if event.cease_reason is None:
        out.emitted.append(
            j.alert(
                "cease-reason",
                case_id=event.case_id,
                kind="cease-without-reason",
                severity="data-quality",
                organisation=OrganisationRef(agency=Agency.LA_SEN, code=event.la_code),
                message="a decision to cease was recorded without its reason (SEN2 cease reason)",
            )
        )
