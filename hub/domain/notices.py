"""Statutory notices to the parent or young person, and restrictions on sharing a case.

A time limit is met by the notice, not by the decision behind it (regs 4(1), 5(1), 10(1),
13(2)); a notice is also where the reg 13(1) days for representations and the reg 32 appeal
information are checked, and where a decision to cease starts the time to appeal it.
"""

from __future__ import annotations

from datetime import timedelta

from hub.domain.clocks import add_months
from hub.domain.facts import CaseUpdate, Outcome, RuleViolation
from hub.domain.judging import Judging, judge, not_before
from hub.domain.reviews import amended
from schemas.common import Agency, OrganisationRef
from schemas.events import APPEALABLE_NOTICES, NoticeIssued, NoticeKind, SharingRestricted


@judge.register
def _restricted(event: SharingRestricted, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    out.case = CaseUpdate(withheld_from=case.withheld_from | {a.value for a in event.withheld_from})


_NOTICE_DATE = {
    NoticeKind.DECISION_TO_ASSESS: "decision_notified_date",
    NoticeKind.DECISION_NOT_TO_ASSESS: "decision_notified_date",
    NoticeKind.NOT_TO_ISSUE: "not_issue_notified_date",
    NoticeKind.FINAL_PLAN: "final_plan_sent_date",
}


@judge.register
def _notice(event: NoticeIssued, j: Judging, out: Outcome) -> None:
    """A notice is what meets a time limit. A final plan may not be sent before the parent or young
    person has had their days for representations on the draft (reg 13(1)); a draft served too
    late for that within 20 weeks is flagged at once, while there is still time to act."""
    case = j.case(event)
    assert case.received_date is not None
    not_before(event.sent_date, case.received_date, "sent_date", "the request received", "notice-after-request")
    la = OrganisationRef(agency=Agency.LA_SEN, code=event.la_code)
    days = timedelta(days=j.rules.representations_days)
    final_due = case.received_date + timedelta(weeks=j.rules.final_plan_weeks)
    if event.notice == NoticeKind.FINAL_PLAN and case.draft_served_date is not None:
        earliest = case.draft_served_date + days
        if event.sent_date < earliest:
            raise RuleViolation(
                f"the final plan may be sent from {earliest}: the draft was served on {case.draft_served_date} "
                f"and reg 13(1) allows {j.rules.representations_days} days for representations",
                field="data.sent_date",
                rule="representations-window",
            )
    if event.notice == NoticeKind.DRAFT_PLAN and event.served() + days > final_due:
        out.emitted.append(
            j.alert(
                "final-plan-at-risk",
                case_id=event.case_id,
                kind="final-plan-at-risk",
                severity="warning",
                organisation=la,
                due_date=final_due,
                message=f"draft served {event.served()}: with {j.rules.representations_days} days for "
                f"representations the final plan cannot be sent by {final_due} (reg 13(1), 13(2))",
            )
        )
    if event.notice in APPEALABLE_NOTICES and not (event.appeal_information and event.mediation_information):
        out.emitted.append(
            j.alert(
                "appeal-information",
                case_id=event.case_id,
                kind="notice-without-appeal-information",
                severity="data-quality",
                organisation=la,
                message=f"{event.notice.value} notice {event.notice_id} does not say it carried the information "
                "about appeal and mediation that reg 32 requires",
            )
        )
    if event.notice == NoticeKind.CEASE:
        if case.cease_decided_date is None:
            raise RuleViolation(
                "no decision to cease this plan has been recorded",
                field="data.notice",
                rule="cease-decided",
                retryable=True,
            )
        # the plan is maintained until the time to appeal the decision has passed (CFA s45, reg 31)
        out.case = CaseUpdate(ceased_date=add_months(event.sent_date, j.rules.cease_appeal_months))
    elif event.notice == NoticeKind.DRAFT_PLAN:
        out.case = CaseUpdate(draft_served_date=event.served())
    elif event.notice == NoticeKind.AMENDED_PLAN and (review := amended(case, event.sent_date, j, "data.sent_date")):
        out.reviews.append(review)  # the notice is what meets the reg 22(3) limit
    elif event.notice in _NOTICE_DATE:
        out.case = CaseUpdate(**{_NOTICE_DATE[event.notice]: event.sent_date})  # type: ignore[arg-type]
