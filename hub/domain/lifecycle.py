"""Clocks of a plan once it is issued: each review's chain, each reassessment, and the phase
transfers ahead.

A review (CFA s44, regs 20-22, domain.md 1.3 rows 6-10):

- notice of the meeting at least two weeks before it, and the advice circulated by then;
- the report within two weeks of the meeting, the LA's decision notified within four;
- on a decision to amend, the final amended plan within eight weeks of the proposed amendments,
  and no later than twelve weeks from the meeting (R (L) v Devon [2022]);
- the next review within twelve months of the meeting (a configurable cycle for under-5s).

A reassessment: the decision whether to reassess notified within 15 days of the request (reg
24), and after a decision to reassess the plan amended or replaced within 14 weeks (reg 27(2)).

A phase transfer (reg 18) is met by an amended plan naming the next institution: before 15 February
(so by the 14th) in the calendar year of a move between school phases, before 31 March for secondary to post-16, five
months before a post-16 to post-16 move. Moves are predicted from the date of birth (the
curriculum years a phase starts in are configuration, since only some councils have separate
infant and junior schools) or recorded by the LA. Two reminders are back-scheduled from the
deadline: the review meeting, and the proposed amendments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.domain.clock import Clock, add_months
from hub.domain.la_transfers import la_transfer_clocks, review_due_after_transfer
from hub.domain.state import Case, Review
from hub.settings import StatutoryRules

LA = "la-sen"
UNDER_FIVE_YEARS = 5


def plan_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    if case.final_plan_date is None:
        return []
    clocks = [c for review in sorted(case.reviews.values(), key=_when) for c in review_clocks(case, review, rules)]
    clocks += transfer_clocks(case, rules)
    clocks += la_transfer_clocks(case, rules)
    if (annual := next_review_clock(case, rules)) is not None:
        clocks.append(annual)
    return clocks


def _when(review: Review) -> date:
    return review.meeting() or review.scheduled_date or date.min


def next_review_clock(case: Case, rules: StatutoryRules) -> Clock | None:
    """Within every twelve months of the plan or its last review, while the plan is maintained
    (until a decision to cease takes effect)."""
    assert case.final_plan_date is not None
    last = max(case.final_plan_date, case.last_review_date or case.final_plan_date)
    born = case.person.date_of_birth if case.person else None
    under_five = born is not None and last < add_months(born, UNDER_FIVE_YEARS * 12)
    months = rules.under_five_review_months if under_five else rules.annual_review_months
    due = review_due_after_transfer(case, add_months(last, months), rules)
    if case.ceased_date is not None and case.ceased_date <= due:
        return None
    return _la_clock(case, f"annual-review:{last.isoformat()}", "annual-review", last, due, None)


def reassessment_clocks(case: Case, review: Review, rules: StatutoryRules) -> list[Clock]:
    """The decision whether to reassess (reg 24), then the plan amended or replaced (reg 27(2))."""
    rid, clocks = review.review_id, []
    asked = review.requested_date
    if asked is not None:
        due = asked + timedelta(days=rules.reassessment_decision_days)
        kind = "reassessment-decision"
        clocks.append(_la_clock(case, f"{kind}:{rid}", kind, asked, due, review.decision_notified_date))
    decided = review.decision_notified_date
    if review.decision == "reassess" and decided is not None:
        due = decided + timedelta(weeks=rules.reassessment_plan_weeks)
        clocks.append(
            _la_clock(case, f"reassessment-plan:{rid}", "reassessment-plan", decided, due, review.amended_plan_date)
        )
    return clocks


def review_clocks(case: Case, review: Review, rules: StatutoryRules) -> list[Clock]:
    if review.review_type == "reassessment":
        return reassessment_clocks(case, review, rules)
    rid = review.review_id
    clocks: list[Clock] = []
    meeting = review.meeting()
    if review.scheduled_date is not None and meeting is not None:
        circulate_by = meeting - timedelta(weeks=rules.review_circulation_weeks)
        notice_by = meeting - timedelta(weeks=rules.review_notice_weeks)
        clocks.append(
            _la_clock(
                case, f"review-notice:{rid}", "review-notice", review.scheduled_date, notice_by, review.scheduled_date
            )
        )
        clocks.append(
            _la_clock(
                case,
                f"review-advice-circulation:{rid}",
                "review-advice-circulation",
                review.scheduled_date,
                circulate_by,
                review.advice_circulated_date,
            )
        )
        for request in sorted(case.advice.values(), key=lambda r: r.request_id):
            if request.review_id != rid:
                continue
            clocks.append(
                Clock(
                    f"{case.case_id}:review-advice:{request.request_id}",
                    case.case_id,
                    "review-advice",
                    request.requested_date,
                    circulate_by,
                    request.submitted_date,
                    agency=request.recipient_agency,
                    organisation=request.recipient_code,
                    request_id=request.request_id,
                    advice_kind=request.advice_kind,
                    advice_received=request.received_date is not None,
                    statutory=False,
                    reminder=f"{request.advice_kind} advice for the review on {meeting} has not arrived: the LA "
                    f"circulates advice by {circulate_by} (regs 20(4), 21(4))",
                )
            )
    held = review.held_date
    if held is None:
        return clocks
    clocks.append(
        _la_clock(
            case,
            f"review-report:{rid}",
            "review-report",
            held,
            held + timedelta(weeks=rules.review_report_weeks),
            review.report_sent_date,
        )
    )
    clocks.append(
        _la_clock(
            case,
            f"review-decision:{rid}",
            "review-decision",
            held,
            held + timedelta(weeks=rules.review_decision_weeks),
            review.decision_notified_date,
        )
    )
    if review.decision == "amend" or review.amendments_proposed_date is not None:
        proposed = review.amendments_proposed_date
        due = (
            proposed + timedelta(weeks=rules.amended_plan_weeks)
            if proposed is not None
            else held + timedelta(weeks=rules.amended_plan_weeks_from_meeting)
        )
        clocks.append(
            _la_clock(case, f"amended-plan:{rid}", "amended-plan", proposed or held, due, review.amended_plan_date)
        )
    return clocks


@dataclass(frozen=True)
class Transfer:
    """One move between phases: when it happens, its reg 18 deadline, and whether the LA named
    the institution the young person moves to."""

    key: str
    kind: str
    moves_on: date
    deadline: date
    named: bool


def transfers(case: Case, rules: StatutoryRules) -> list[Transfer]:
    """The moves the date of birth predicts, with any the LA recorded in place of the prediction
    for the same school year."""
    recorded = [
        Transfer(
            t.transfer_id,
            t.transfer_kind,
            t.transfer_date,
            transfer_deadline(t.transfer_kind, t.transfer_date, rules),
            t.next_institution is not None,
        )
        for t in case.transfers
    ]
    born = case.person.date_of_birth if case.person else None
    predicted: list[Transfer] = []
    if born is not None:
        for year in sorted(rules.phase_transfer_years):
            moves_on = date(born.year + (born.month >= 9) + 4 + year, 9, 1)  # see fanout.curriculum_year
            kind = "secondary-to-post-16" if year >= 12 else "school-phase"
            if any(_school_year(t.moves_on) == _school_year(moves_on) for t in recorded):
                continue
            predicted.append(
                Transfer(
                    f"year-{year}:{moves_on.year}", kind, moves_on, transfer_deadline(kind, moves_on, rules), False
                )
            )
    return sorted(recorded + predicted, key=lambda t: t.deadline)


def transfer_deadline(kind: str, moves_on: date, rules: StatutoryRules) -> date:
    if kind == "post-16-to-post-16":
        return add_months(moves_on, -rules.post_16_move_months)
    before = rules.post_16_transfer_deadline if kind == "secondary-to-post-16" else rules.phase_transfer_deadline
    return date.fromisoformat(f"{moves_on.year}-{before}") - timedelta(days=1)  # "before 15 February": the 14th


def _school_year(day: date) -> int:
    return day.year - (day.month < 9)


def transfer_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    """The transfers while the plan is in force: those ahead show what is coming, and alert only
    as their dates near."""
    assert case.final_plan_date is not None
    clocks: list[Clock] = []
    for transfer in transfers(case, rules):
        if transfer.deadline <= case.final_plan_date or (case.ceased_date and case.ceased_date <= transfer.deadline):
            continue
        window = add_months(transfer.deadline, -12)
        in_window = [r for r in case.reviews.values() if (r.meeting() or date.min) >= window]
        amended = min((r.amended_plan_date for r in in_window if r.amended_plan_date), default=None)
        held = min((r.held_date for r in in_window if r.held_date), default=None)
        proposed = min((r.amendments_proposed_date for r in in_window if r.amendments_proposed_date), default=None)
        met = amended if transfer.named else None
        what = f"the {transfer.kind.replace('-', ' ')} move on {transfer.moves_on}"
        clocks.append(
            _la_clock(case, f"phase-transfer:{transfer.key}", "phase-transfer", window, transfer.deadline, met)
        )
        for kind, weeks, done, step in (
            ("phase-transfer-review", rules.transfer_review_lead_weeks, held, "hold the review"),
            ("phase-transfer-amendments", rules.transfer_notice_lead_weeks, proposed, "send the proposed amendments"),
        ):
            due = transfer.deadline - timedelta(weeks=weeks)
            clocks.append(
                _la_clock(
                    case,
                    f"{kind}:{transfer.key}",
                    kind,
                    window,
                    due,
                    done,
                    statutory=False,
                    reminder=f"{step} by {due} for {what}: the amended plan naming the next institution is due by "
                    f"{transfer.deadline} (reg 18)",
                )
            )
    return clocks


def _la_clock(
    case: Case,
    name: str,
    kind: str,
    start: date,
    due: date,
    stopped: date | None,
    *,
    statutory: bool = True,
    reminder: str = "",
) -> Clock:
    return Clock(
        f"{case.case_id}:{name}",
        case.case_id,
        kind,
        start,
        due,
        stopped,
        agency=LA,
        organisation=case.owner,
        statutory=statutory,
        reminder=reminder,
    )
