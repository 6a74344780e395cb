"""The hub's side of the adapters' EventPort: judge submissions against the store, then publish.

Checking the workflow rules before publishing lets the HTTP and CSV ingress answer a sender at
once (404 unknown case, 409 duplicate submission, 422 a contradiction) instead of only dead-
lettering later. The delivery core applies the same rules again when it consumes the event.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from adapters.common import Submission, SubmitResult, Unavailable
from hub.cooperative import share_the_loop
from hub.domain.authority import refusal
from hub.domain.clocks import case_clocks
from hub.domain.judging import case_of, once_keys
from hub.domain.state import Case, Context
from hub.domain.workflow import RuleViolation, evaluate, evolve
from hub.pipeline.publisher import EventPublisher, Producer, TopicNames
from hub.privacy.sealing import marks_erasure
from hub.settings import StatutoryRules

if TYPE_CHECKING:
    from hub.privacy.service import Privacy
from hub.store import Store
from hub.store.claims import PUBLISHED
from schemas.envelope import Envelope, envelope_for
from schemas.events import Event

STATUS_FOR_RULE = {
    "known-case": 404,
    "known-advice-request": 404,
    "known-referral": 404,
    "known-person": 404,
    "single-submission": 409,
    "single-decision": 409,
}


MISSING_FACT_WAITS = (0.1, 0.3, 0.6, 1.0)
SUBMIT_PART = 5000


class HubEventPort:
    def __init__(
        self,
        store: Store,
        producer: Producer,
        names: TopicNames,
        rules: StatutoryRules,
        publish_timeout: float = 10.0,
        privacy: Privacy | None = None,
    ) -> None:
        self.store = store
        self.publisher = EventPublisher(producer, names, privacy)
        self.rules = rules
        self.publish_timeout = publish_timeout

    async def submit_many(self, submissions: list[Submission]) -> list[SubmitResult]:
        """Judge and publish submissions in order; each sees the effects of those before it.

        A large batch (a CSV file) goes in parts, so only one part's envelopes and unacknowledged
        records are held at a time; what earlier parts did to a case is carried forward."""
        contexts: dict[str, Context] = {}
        results: list[SubmitResult] = []
        for start in range(0, len(submissions), SUBMIT_PART):
            part = submissions[start : start + SUBMIT_PART]
            try:
                results += await self._submit_part(part, submissions, contexts)
            except (TimeoutError, KafkaError) as exc:
                raise Unavailable(
                    f"the event log (Kafka) did not take the event in time: {type(exc).__name__}"
                ) from exc
            except (SQLAlchemyError, OSError) as exc:
                raise Unavailable(f"the hub's store is unavailable: {type(exc).__name__}") from exc
        return results

    async def _submit_part(
        self, part: list[Submission], everything: list[Submission], contexts: dict[str, Context]
    ) -> list[SubmitResult]:
        envelopes: list[Envelope] = []
        for s in part:
            await share_the_loop()
            envelopes.append(
                envelope_for(
                    s.event,
                    source=s.source,
                    event_id=s.event_id,
                    correlation_id=s.correlation_id,
                    causation_id=s.causation_id,
                    time=s.time,
                )
            )
        done = await self.store.processed_ids([e.id for e in envelopes])
        stored, _ = await self.store.contexts_for([s.event for s in part])
        for key, ctx in stored.items():  # a case an earlier part changed is newer than the store's copy
            contexts.setdefault(key, ctx)
        results: list[SubmitResult | None] = [
            SubmitResult("unchanged", env.id, 200, "already accepted")
            if env.id in done
            else SubmitResult("rejected", env.id, 422, "only the hub marks a person erased", "data", "erased-by-hub")
            if marks_erasure(env.type, env.data)
            else None
            for env in envelopes
        ]
        waiting = [i for i, r in enumerate(results) if r is None]
        delays = (0.0, *MISSING_FACT_WAITS)
        for n, delay in enumerate(delays):
            if delay:
                await asyncio.sleep(delay)
                fresh, _ = await self.store.contexts_for([part[i].event for i in waiting])
                contexts.update(fresh)
            last = n == len(delays) - 1  # still missing what it refers to: the rule's own answer (404)
            still = []
            for i in waiting:
                await share_the_loop()
                if not self._judge(part[i], envelopes[i], contexts, everything, results, i, last):
                    still.append(i)
            waiting = still
            if not waiting:
                break
        judged = [(i, part[i], envelopes[i]) for i, r in enumerate(results) if r is None]
        await self._publish_once(judged, results)
        return [r for r in results if r is not None]

    def _judge(
        self,
        sub: Submission,
        env: Envelope,
        contexts: dict[str, Context],
        everything: list[Submission],
        results: list[SubmitResult | None],
        i: int,
        final: bool = False,
    ) -> bool:
        """Judge one submission against what is known; False if a fact it refers to may simply not
        have arrived yet (a reply can overtake the record it answers), so it is judged again after a
        moment rather than refused at once. A rejection is put in ``results``; acceptance leaves None."""
        case_id = case_of(sub.event) or ""
        refused = refusal(sub.sender, sub.event, contexts.get(case_id))
        if refused is not None:
            results[i] = SubmitResult("rejected", env.id, 403, refused, None, "sender-authority")
            return True
        try:
            outcome = evaluate(sub.event, contexts.get(case_id), self.rules, event_id=env.id)
        except RuleViolation as exc:
            if exc.rule == "known-case" and _opens_case_in_batch(case_id, everything):
                return True  # opened by an earlier submission of the same batch
            if exc.retryable and not final:
                return False
            status = STATUS_FOR_RULE.get(exc.rule, 422)
            results[i] = SubmitResult("rejected", env.id, status, exc.message, exc.field, exc.rule)
            return True
        if case_id and isinstance(known := contexts.get(case_id), Case | None):
            contexts[case_id] = evolve(known, case_id, sub.event, outcome)
        return True

    async def _publish_once(
        self, judged: list[tuple[int, Submission, Envelope]], results: list[SubmitResult | None]
    ) -> None:
        """Publish what was judged, each event once however many identical requests arrive together
        (here or at another instance): the request that claims an event publishes it, and the others
        wait for it and give the same answer; an event wanting a once-only fact another event holds
        (a second answer to one advice request) is refused with 409 before anything is published."""
        token = uuid.uuid4().hex
        wanted = {f"event:{env.id}": env.id for _, _, env in judged}
        wanted.update({key: env.id for _, sub, env in judged for key, _ in once_keys(sub.event)})
        held = await self.store.claim(token, wanted, stale_after=2 * self.publish_timeout)
        to_send: list[tuple[Event, Envelope]] = []
        followed = []
        for i, sub, env in judged:
            await share_the_loop()
            taken = [(k, f) for k, f in once_keys(sub.event) if held[k].event_id != env.id]
            if taken:
                key, field = taken[0]
                message = f"already recorded by event {held[key].event_id}: {key.split(':')[0]} happens once"
                results[i] = SubmitResult("rejected", env.id, 409, message, field, "single-submission")
            elif held[f"event:{env.id}"].token != token:
                followed.append((i, env.id))
            else:
                to_send.append((sub.event, env))
                results[i] = SubmitResult("accepted", env.id)
        sends = await self.publisher.events(to_send)
        try:
            await asyncio.wait_for(asyncio.gather(*sends), self.publish_timeout)
        except BaseException:
            await self.store.settle(token, published=False)
            raise
        await self.store.settle(token, published=True)
        for i, event_id in followed:
            results[i] = await self._outcome_of(event_id)

    async def _outcome_of(self, event_id: str) -> SubmitResult:
        """The answer an identical request in flight elsewhere got, once it is settled."""
        key = f"event:{event_id}"
        deadline = asyncio.get_running_loop().time() + 2 * self.publish_timeout
        while asyncio.get_running_loop().time() < deadline:
            claim = (await self.store.holders([key])).get(key)
            if claim is None:
                break  # its publisher gave up: the sender should try again
            if claim.state == PUBLISHED:
                return SubmitResult("accepted", event_id)
            await asyncio.sleep(0.05)
        raise Unavailable("an identical request could not be made durable; try again")


def _opens_case_in_batch(case_id: str, submissions: list[Submission]) -> bool:
    return any(
        getattr(s.event, "case_id", None) == case_id and s.event.event_type == "assessment-requested"
        for s in submissions
    )


class HubAdviceInbox:
    """The adapters' AdviceInbox over the store."""

    def __init__(self, store: Store, rules: StatutoryRules) -> None:
        self.store = store
        self.rules = rules

    async def pending_for(self, recipient_code: str) -> list[dict[str, Any]]:
        return await self._with_due_dates(await self.store.advice_requests_for(recipient_code))

    async def requests_for(self, recipient_code: str) -> list[dict[str, Any]]:
        return await self._with_due_dates(await self.store.advice_requests_for(recipient_code, pending_only=False))

    async def request(self, request_id: str, due_date: bool = True) -> dict[str, Any] | None:
        row = await self.store.advice_request(request_id)
        if row is None or not due_date:
            return row
        return (await self._with_due_dates([row]))[0]

    async def _with_due_dates(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each request with the due date of its clock, as the hub's statutory clocks have it now."""
        contexts = await self.store.case_contexts(sorted({r["case_id"] for r in rows}))
        due = {
            clock.request_id: clock.due
            for case in contexts.values()
            for clock in case_clocks(case, self.rules)
            if clock.request_id is not None
        }
        return [{**r, "due_date": due.get(r["request_id"])} for r in rows]

    async def first_accepted(self, event_id: str) -> datetime | None:
        return await self.store.claimed_at(f"event:{event_id}")
