"""The clock watcher: raises alerts before statutory deadlines and at breach, on one instance.

Today's date is injected, so tests and replays run any scenario at any date without sleeping.
Alert ids are derived from the clock and the severity, so a sweep repeated (or run by a second
instance during a failover) raises nothing twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.cooperative import share_the_loop
from hub.domain.clocks import Clock, case_clocks
from hub.domain.facts import RaisedAlert
from hub.domain.ids import derived_id
from hub.domain.planner import (
    consideration_alerts,
    continuity_alerts,
    may_be_referred,
    may_need_referral,
    plan_referral_updates,
    plan_referrals,
    telling_them,
)
from hub.domain.state import Case
from hub.logging import get_logger
from hub.pipeline.publisher import EventPublisher, Producer, TopicNames
from hub.pipeline.records import addressed_to
from hub.privacy.service import Privacy
from hub.settings import StatutoryRules, TransitionRules
from hub.store import Store
from hub.store.database import parts
from hub.topics import ALERTS_TOPIC, outbound_topic
from schemas.common import Agency, OrganisationRef
from schemas.envelope import envelope_for
from schemas.events import AlertRaised

log = get_logger("hub.ops.scheduler")
LONDON = ZoneInfo("Europe/London")
LEADER_LOCK_KEY = 0x45484301  # "EHC" + 1: the clock watcher's advisory lock
CHUNK = 500
SEND_PART = 100  # alerts built, sealed and sent between turns of the loop
LISTED = 1000  # alerts a sweep's answer lists; beyond these they are counted (all are on Kafka and in the store)


def london_today() -> date:
    return datetime.now(LONDON).date()


def alerts_for(clock: Clock, today: date, rules: StatutoryRules) -> list[AlertRaised]:
    state = clock.state(today, rules.warning_days)
    org = (
        OrganisationRef(agency=Agency(clock.agency), code=clock.organisation)
        if clock.agency and clock.organisation
        else None
    )
    what = clock.kind.replace("-", " ")
    if clock.kind == "advice":
        what = f"{clock.advice_kind} advice from {clock.organisation}"
    found: list[AlertRaised] = []

    def alert(severity: str, kind: str, message: str) -> None:
        found.append(
            AlertRaised(
                alert_id=derived_id(clock.clock_id, f"{severity}:{kind}"),
                case_id=clock.case_id,
                kind=kind,
                severity=severity,
                message=message,
                due_date=clock.due,
                organisation=org,
            )
        )  # type: ignore[arg-type]

    if not clock.statutory:
        if state == "reminder":
            alert(
                "info",
                f"{clock.kind}-reminder",
                clock.reminder
                or f"the family's advice requested on {clock.start} has not arrived; "
                "no statutory limit applies to it (reg 8 binds the bodies asked for advice)",
            )
        return found
    if clock.exceptions and (state == "excepted" or today >= clock.due):
        alert(
            "info",
            f"{clock.kind}-exception-applied",
            f"{what}: time limit {clock.due} does not apply ({', '.join(e.split(':')[0] for e in clock.exceptions)})",
        )
    if state in ("due-soon", "overdue"):
        alert("warning", f"{clock.kind}-due-soon", f"{what} is due on {clock.due}")
    if state in ("overdue", "late"):
        alert("breach", f"{clock.kind}-breached", f"{what} was due on {clock.due} and is late")
    return found


@dataclass
class Sweep:
    """What one sweep raised: every alert counted by kind, the first ``LISTED`` kept. A first sweep
    of a large store raises hundreds of thousands, which it need not hold to report them."""

    by_kind: Counter[str] = field(default_factory=Counter)
    alerts: list[AlertRaised] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.by_kind.values())

    def add(self, raised: Iterable[AlertRaised]) -> None:
        for alert in raised:
            self.by_kind[alert.kind] += 1
            if len(self.alerts) < LISTED:
                self.alerts.append(alert)


class ClockWatcher:
    def __init__(
        self,
        store: Store,
        producer: Producer,
        names: TopicNames,
        rules: StatutoryRules,
        hub_source: str,
        today: Callable[[], date] = london_today,
        transition_rules: TransitionRules | None = None,
        privacy: Privacy | None = None,
        retention: Callable[[date], Awaitable[Any]] | None = None,
        retention_every: float = 24 * 3600,
        page_size: int = CHUNK,
    ) -> None:
        self.retention = retention
        self.retention_every = retention_every
        self.page_size = page_size  # open cases read at a time
        self.transition_rules = transition_rules or TransitionRules()
        self.store = store
        self.producer = producer
        self.names = names
        self.publisher = EventPublisher(producer, names, privacy)
        self.rules = rules
        self.hub_source = hub_source
        self.today = today

    async def sweep(self) -> Sweep:
        """Evaluate every open case's clocks; publish and record the alerts not raised before."""
        today = self.today()
        raised = Sweep()
        async for page in self.store.open_case_pages(today, self.page_size):
            contexts = await self.store.case_contexts(page)
            candidates: list[AlertRaised] = []
            for ctx in contexts.values():
                await share_the_loop()
                candidates += (a for c in case_clocks(ctx, self.rules) for a in alerts_for(c, today, self.rules))
            raised.add(await self._raise(candidates, today))
        await self._transitions(today, raised)
        if raised.count:
            log.info("clock alerts raised", count=raised.count, today=today.isoformat())
        return raised

    async def _raise(self, candidates: list[AlertRaised], today: date) -> list[AlertRaised]:
        """Publish and record the alerts not raised before; returns them."""
        known = {r["alert_id"] for r in await self.store.alerts_by_id([a.alert_id for a in candidates])}
        fresh = [a for a in candidates if a.alert_id not in known]
        await self._publish(fresh, today)
        await self.store.record_alerts([RaisedAlert(a, today) for a in fresh])
        return fresh

    async def _transitions(self, today: date, raised: Sweep) -> None:
        """Issue the transition referrals now due, and tell children's services to carry on (s66)
        for anyone who turned 18 without adult support in place.

        Open cases are read a page at a time: each page's young people old enough to be considered
        are asked about there and then, and only the cases of people with a determination or an
        assessment (the lawful reasons for a referral) are kept for the planner. A first sweep of a
        national store asks about a hundred thousand young people; held at once, they and their
        alerts took more memory than all the rest of the hub."""
        sources = await self.store.transition_sources()
        reasons = may_be_referred(sources)
        planned: list[Case] = []
        async for page in self.store.transition_cases(
            lambda case: may_need_referral(case, today, self.transition_rules), on=today, size=self.page_size
        ):
            planned += (case for case in page if case.person_key in reasons)
            asked = consideration_alerts(replace(sources, cases=tuple(page)), today, self.transition_rules)
            raised.add(await self._raise(asked, today))
        sources = replace(sources, cases=tuple(planned))
        issued = plan_referrals(sources, today, self.transition_rules)
        for referral in issued:
            env = envelope_for(referral, source=self.hub_source, event_id=referral.referral_id)
            await (await self.publisher.event(referral, env))
            log.info(
                "transition referral issued",
                referral_id=referral.referral_id,
                offered=len(referral.offered_assessments),
            )
        for update in plan_referral_updates(sources, today, self.transition_rules):
            offered = ",".join(sorted(o.assessment_id for o in update.offered_assessments))
            env = envelope_for(
                update,
                source=self.hub_source,
                event_id=derived_id(f"{update.referral_id}:{offered}", "referral-update"),
            )
            await (await self.publisher.event(update, env))
            log.info("transition referral updated", referral_id=update.referral_id, offered=offered)
        continuity = continuity_alerts(sources, today, self.transition_rules)
        raised.add(await self._raise([*continuity, *(telling_them(referral) for referral in issued)], today))

    async def _publish(self, alerts: list[AlertRaised], today: date) -> None:
        """Send every alert (and its copy to the organisation whose clock it is), then wait for the
        broker once: waiting for each in turn made a first sweep of a national store, a quarter of
        a million alerts, take most of an hour. Only then are they recorded as raised, so an alert
        the broker refused is raised again by the next sweep. The chunk is sealed in one call and
        the sends give way to the loop: a page of overdue cases raises thousands of alerts, and
        sending them in one stretch held every request back for a tenth of a second."""
        raised_on = [("hub-raised-on", today.isoformat().encode())]
        sent = []
        for part in parts(alerts, SEND_PART):
            envelopes = [envelope_for(a, source=self.hub_source, event_id=a.alert_id) for a in part]
            for alert, value in zip(part, await self.publisher.values(envelopes), strict=True):
                sent.append(await self.publisher.cloudevent(ALERTS_TOPIC, value, alert.key(), raised_on))
                if (org := alert.organisation) is not None:
                    headers = raised_on + list(addressed_to(org.agency.value, org.code))
                    copy = await self.publisher.cloudevent(outbound_topic(org.agency), value, alert.key(), headers)
                    sent.append(copy)
            await share_the_loop()
        await asyncio.gather(*sent)

    async def run_forever(self, interval_seconds: float) -> None:
        """Sweep periodically while holding the leader lock (PostgreSQL); other instances stand by.
        The leader also applies the retention schedules, less often."""
        retention_next = 0.0
        async with self.store.engine.connect() as conn:
            while True:
                try:
                    if await self.store.try_leader_lock(conn, LEADER_LOCK_KEY):
                        await self.sweep()
                        if self.retention is not None and time.monotonic() >= retention_next:
                            retention_next = time.monotonic() + self.retention_every
                            await self.retention(self.today())
                except Exception as exc:
                    log.error("clock sweep failed", error=type(exc).__name__)
                await asyncio.sleep(interval_seconds)
