"""A plan moving with the young person to another council's area (SEND Regs reg 15).

The old council transfers the plan on the day of the move, or, if it learnt of the move fewer
than 15 working days before it, within 15 working days beginning with the day it learnt (reg
15(2)). From the transfer the new council maintains the plan as if it had made it (15(3)): it is
the case's owner from then on, the one whose systems may record its events. Within 6 weeks it
tells the family the plan has moved, whether it will assess, and when it will review (15(4)); the
review falls due on the later of the plan's usual date and 3 months from the transfer (15(5)).

Working days leave out weekends and the bank holidays in ``HUB_RULES__BANK_HOLIDAYS``.
"""

from __future__ import annotations

from datetime import date, timedelta

from hub.domain.clock import Clock, add_months
from hub.domain.facts import Outcome, RuleViolation
from hub.domain.judging import Judging, judge, not_before
from hub.domain.state import Case, LaTransfer
from hub.settings import StatutoryRules
from schemas.events import LaTransferRecorded

_STEP_DATE = {"aware": "aware_date", "transferred": "transferred_date", "new-la-notified": "notified_date"}


@judge.register
def _la_transfer(event: LaTransferRecorded, j: Judging, out: Outcome) -> None:
    case = j.case(event)
    if case.final_plan_date is None:
        raise RuleViolation(
            f"case {case.case_id!r} has no plan to transfer", field="data.step", rule="plan-issued", retryable=True
        )
    known = case.la_transfers.get(event.transfer_id)
    if event.step == "new-la-notified":
        if known is None or known.transferred_date is None:
            raise RuleViolation(
                f"plan transfer {event.transfer_id!r} has not been recorded as transferred",
                field="data.step",
                rule="plan-transferred",
                retryable=True,
            )
        not_before(event.step_date, known.transferred_date, "step_date", "the transfer", "after-transfer")
    out.la_transfers.append(
        LaTransfer(
            event.transfer_id,
            event.case_id,
            known.old_la_code if known else event.la_code,
            event.new_la_code,
            move_date=event.move_date,
            **{_STEP_DATE[event.step]: event.step_date},  # type: ignore[arg-type]
        )
    )


def working_days_from(start: date, days: int, holidays: frozenset[date]) -> date:
    """The last of ``days`` working days beginning with ``start``."""
    day, counted = start, 0
    while True:
        if day.weekday() < 5 and day not in holidays:
            counted += 1
            if counted == days:
                return day
        day += timedelta(days=1)


def transfer_due(move: LaTransfer, rules: StatutoryRules) -> date | None:
    """When the old council must transfer the plan (reg 15(2))."""
    if move.move_date is None:
        return None
    holidays = frozenset(rules.bank_holidays)
    aware = move.aware_date or move.transferred_date or move.move_date
    if working_days_from(aware, rules.la_transfer_working_days + 1, holidays) <= move.move_date:
        return move.move_date  # aware at least 15 working days before the move
    return working_days_from(aware, rules.la_transfer_working_days, holidays)


def la_transfer_clocks(case: Case, rules: StatutoryRules) -> list[Clock]:
    clocks: list[Clock] = []
    for move in sorted(case.la_transfers.values(), key=lambda m: m.transfer_id):
        due = transfer_due(move, rules)
        start = move.aware_date or move.move_date
        if due is not None and start is not None:
            clocks.append(_clock(case, move, "la-transfer", move.old_la_code, start, due, move.transferred_date))
        if move.transferred_date is not None:
            notice_due = move.transferred_date + timedelta(weeks=rules.la_transfer_notice_weeks)
            clocks.append(
                _clock(
                    case, move, "new-la-notice", move.new_la_code, move.transferred_date, notice_due, move.notified_date
                )
            )
    return clocks


def review_due_after_transfer(case: Case, usual: date, rules: StatutoryRules) -> date:
    """The later of the plan's usual review date and 3 months from the latest transfer (reg 15(5))."""
    moved = [m.transferred_date for m in case.la_transfers.values() if m.transferred_date is not None]
    if not moved:
        return usual
    return max(usual, add_months(max(moved), rules.la_transfer_review_months))


def _clock(
    case: Case, move: LaTransfer, kind: str, council: str, start: date, due: date, stopped: date | None
) -> Clock:
    return Clock(
        f"{case.case_id}:{kind}:{move.transfer_id}",
        case.case_id,
        kind,
        start,
        due,
        stopped,
        agency="la-sen",
        organisation=council,
    )
