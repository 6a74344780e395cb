"""The EHC workflow's rules: what each event means for its case, and what it must not contradict.

Pure functions of the event and the case as the store knows it, so they can be tested with plain
data and replayed by ``hub rebuild``. A ``RuleViolation`` names the field and the rule; it is
``retryable`` when the missing fact may simply not have arrived yet (events for one case travel
on several topics), and final when the event contradicts what is already recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from hub.domain.facts import RuleViolation, WorkflowOutcome
from hub.domain.fanout import add_weeks, plan_advice
from hub.domain.ids import derived_id
from hub.domain.transitions import evaluate_transition
from hub.settings import StatutoryRules
from schemas.common import PersonRef
from schemas.events import (
    AdviceRequested,
    AdviceRequestReceived,
    AdviceRequestStatusChanged,
    AdviceSubmitted,
    AlertRaised,
    AssessmentDecisionMade,
    AssessmentRequested,
    CareAssessmentRecorded,
    CaseExceptionRecorded,
    ChangeOfCircumstancesRecorded,
    Event,
    PanelOutcomeRecorded,
    PlanEventKind,
    PlanRecorded,
    TransitionReferralAcknowledged,
    TransitionReferralIssued,
    TreatAsAdultAssessmentDecision,
)

CaseContext = dict[str, Any]


def _require_case(event: Event, context: CaseContext | None) -> CaseContext:
    if context is None or context.get("received_date") is None:
        raise RuleViolation(
            f"case {getattr(event, 'case_id', '?')!r} is not known: no assessment request has been recorded",
            field="data.case_id",
            rule="known-case",
            retryable=True,
        )
    return context


def _not_before(day: date, earliest: date, field_name: str, what: str, rule: str) -> None:
    if day < earliest:
        raise RuleViolation(f"{field_name} {day} is before {what} {earliest}", field=f"data.{field_name}", rule=rule)


def _request(
    context: CaseContext, event: AdviceSubmitted | AdviceRequestReceived | AdviceRequestStatusChanged
) -> dict[str, Any]:
    request = context.get("advice", {}).get(event.request_id)
    if request is None:
        raise RuleViolation(
            f"no advice request {event.request_id!r} was made for case {event.case_id!r}",
            field="data.request_id",
            rule="known-advice-request",
            retryable=True,
        )
    return dict(request)


def evaluate(
    event: Event,
    context: CaseContext | None,
    rules: StatutoryRules,
    *,
    event_id: str,
    person_keys: Sequence[str | None] = (),
) -> WorkflowOutcome:
    """Check ``event`` against its case (or referral) and work out its consequences.

    ``person_keys`` are the identity keys of the people ``persons_in(event)`` names, in order.
    """
    out = WorkflowOutcome()
    if isinstance(
        event,
        CareAssessmentRecorded
        | ChangeOfCircumstancesRecorded
        | TransitionReferralIssued
        | TransitionReferralAcknowledged
        | TreatAsAdultAssessmentDecision,
    ):
        evaluate_transition(event, context, event_id, list(person_keys), out)
    elif isinstance(event, AssessmentRequested):
        out.case_fields = {
            "person": event.person.model_dump(mode="json", exclude_none=True),
            "year_group": event.year_group,
        }
    elif isinstance(event, AssessmentDecisionMade):
        ctx = _require_case(event, context)
        _not_before(
            event.decision_date, ctx["received_date"], "decision_date", "the request received", "decision-after-request"
        )
        out.case_fields = {"decision": event.decision, "decision_date": event.decision_date}
        if event.decision == "assess":
            _fan_out(event, ctx, rules, event_id, out)
    elif isinstance(event, AdviceRequestReceived):
        ctx = _require_case(event, context)
        request = _request(ctx, event)
        _not_before(
            event.received_date, request["requested_date"], "received_date", "the request", "received-after-request"
        )
        out.advice_updates.append({"request_id": event.request_id, "received_date": event.received_date})
    elif isinstance(event, AdviceRequestStatusChanged):
        ctx = _require_case(event, context)
        request = _request(ctx, event)
        if request.get("submitted_date"):
            raise RuleViolation(
                f"advice for request {event.request_id!r} was already submitted",
                field="data.status",
                rule="request-open",
            )
        _not_before(
            event.changed_date, request["requested_date"], "changed_date", "the request", "change-after-request"
        )
        update: dict[str, Any] = {
            "request_id": event.request_id,
            "task_status": event.status,
            "status_reason": event.reason,
        }
        if event.status != "rejected":  # accepting or starting work shows the request was received
            update["received_date"] = event.changed_date
        out.advice_updates.append(update)
        if event.status == "rejected":
            out.emitted.append(
                AlertRaised(
                    alert_id=derived_id(event_id, "advice-rejected"),
                    case_id=event.case_id,
                    kind="advice-request-rejected",
                    severity="warning",
                    organisation=event.changed_by,
                    message=f"{request['advice_kind']} advice request rejected by {event.changed_by.code}: "
                    f"{event.reason}",
                )
            )
    elif isinstance(event, AdviceSubmitted):
        ctx = _require_case(event, context)
        request = _request(ctx, event)
        if request.get("submission_event_id") and request["submission_event_id"] != event_id:
            raise RuleViolation(
                f"advice for request {event.request_id!r} was already submitted on {request['submitted_date']}",
                field="data.request_id",
                rule="single-submission",
            )
        _not_before(
            event.submitted_date, request["requested_date"], "submitted_date", "the request", "submitted-after-request"
        )
        out.advice_updates.append(
            {
                "request_id": event.request_id,
                "submitted_date": event.submitted_date,
                "submission_event_id": event_id,
                "signed_off": 1 if event.signed_off_by is not None else 0,
                # Advice submitted without a recorded receipt was evidently received by then.
                "received_date": request.get("received_date") or event.submitted_date,
            }
        )
    elif isinstance(event, CaseExceptionRecorded):
        _require_case(event, context)
        out.exceptions.append(
            {
                "exception_id": event.exception_id,
                "case_id": event.case_id,
                "kind": event.kind.value,
                "start_date": event.start_date,
                "end_date": event.end_date,
                "request_id": event.request_id,
                "recorded_by": event.recorded_by,
            }
        )
    elif isinstance(event, PanelOutcomeRecorded):
        ctx = _require_case(event, context)
        _not_before(event.panel_date, ctx["received_date"], "panel_date", "the request received", "panel-after-request")
        out.case_fields = {"panel_date": event.panel_date, "panel_outcome": event.outcome}
    elif isinstance(event, PlanRecorded):
        ctx = _require_case(event, context)
        _not_before(event.event_date, ctx["received_date"], "event_date", "the request received", "plan-after-request")
        column = {
            PlanEventKind.DRAFTED: "draft_date",
            PlanEventKind.ISSUED: "final_plan_date",
            PlanEventKind.REVIEWED: "last_review_date",
            PlanEventKind.CEASED: "ceased_date",
        }[event.kind]
        out.case_fields[column] = event.event_date
        if event.kind in (PlanEventKind.ISSUED, PlanEventKind.REVIEWED):
            out.case_fields["plan_sections"] = event.sections.model_dump(mode="json", exclude_none=True)
            out.case_fields["plan_sections_date"] = event.event_date
    return out


def _fan_out(
    decision: AssessmentDecisionMade, ctx: CaseContext, rules: StatutoryRules, event_id: str, out: WorkflowOutcome
) -> None:
    plan = plan_advice(decision, ctx.get("year_group"), rules)
    person = PersonRef.model_validate(ctx["person"])
    for kind, org in plan.to_request.items():
        request_id = derived_id(event_id, f"advice:{kind.value}")
        request = AdviceRequested(
            case_id=decision.case_id,
            request_id=request_id,
            advice_kind=kind,
            recipient=org,
            person=person,
            requested_date=decision.decision_date,
            due_date=add_weeks(decision.decision_date, rules.advice_weeks),
        )
        out.emitted.append(request)
        out.advice_requests.append(
            {
                "request_id": request_id,
                "case_id": decision.case_id,
                "advice_kind": kind.value,
                "recipient_agency": org.agency.value,
                "recipient_code": org.code,
                "requested_date": decision.decision_date,
                "reused": None,
                "request": request.model_dump(mode="json", exclude_none=True),
            }
        )
    for kind, agreement in plan.reused.items():
        out.advice_requests.append(
            {
                "request_id": derived_id(event_id, f"reused:{kind.value}"),
                "case_id": decision.case_id,
                "advice_kind": kind.value,
                "recipient_agency": agreement.adviser.organisation.agency.value,
                "recipient_code": agreement.adviser.organisation.code,
                "requested_date": decision.decision_date,
                "reused": agreement.model_dump(mode="json"),
                "request": None,
            }
        )
    for kind in plan.unassigned:
        out.emitted.append(
            AlertRaised(
                alert_id=derived_id(event_id, f"unassigned:{kind.value}"),
                case_id=decision.case_id,
                kind="advice-adviser-missing",
                severity="data-quality",
                message=f"{kind.value} advice is required (reg 6(1)) but no adviser was named",
            )
        )
