"""A clock: a time limit with its start, due date and stop, and the date arithmetic limits use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.settings import StatutoryRules


@dataclass(frozen=True)
class Clock:
    clock_id: str
    case_id: str
    kind: str
    start: date
    due: date
    stopped: date | None
    exceptions: tuple[str, ...] = ()
    agency: str | None = None
    organisation: str | None = None
    request_id: str | None = None
    advice_kind: str | None = None
    advice_received: bool | None = None
    statutory: bool = True
    reminder: str = ""

    def state(self, today: date, warning_days: int) -> str:
        """running, due-soon, met, late, overdue, or excepted (a permitted exception applies); a
        reminder that is not a statutory limit is running, received (advice) or done, or reminder
        (it is past)."""
        if not self.statutory:
            if self.stopped is not None:
                return "received" if self.advice_kind else "done"
            return "reminder" if today > self.due else "running"
        if self.stopped is not None:
            if self.stopped <= self.due:
                return "met"
            return "excepted" if self.exceptions else "late"
        if today > self.due:
            return "excepted" if self.exceptions else "overdue"
        if today >= self.due - timedelta(days=warning_days):
            return "due-soon"
        return "running"


def last_day(start: date, weeks: int, rules: StatutoryRules) -> date:
    """The last day on which a limit of ``weeks`` from ``start`` (Day 1) is met. By default the day
    the weeks end is on time (a final plan sent 140 days after the request is within 20 weeks);
    ``HUB_RULES__DUE_DAY_IS_ON_TIME=false`` counts only the days before it, as some councils do."""
    return start + timedelta(weeks=weeks) - (timedelta(0) if rules.due_day_is_on_time else timedelta(days=1))


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise ValueError(day)
