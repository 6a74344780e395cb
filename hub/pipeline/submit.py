"""The hub's side of the adapters' EventPort: judge submissions against the store, then publish.

Checking the workflow rules before publishing lets the HTTP and CSV ingress answer a sender at
once (404 unknown case, 409 duplicate submission, 422 a contradiction) instead of only dead-
lettering later. The delivery core applies the same rules again when it consumes the event.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from adapters.common import Submission, SubmitResult, Unavailable
from hub.domain.authority import refusal
from hub.domain.judging import case_of
from hub.domain.state import Context, Referral
from hub.domain.workflow import RuleViolation, evaluate, evolve
from hub.pipeline.publisher import EventPublisher, Producer, TopicNames
from hub.settings import StatutoryRules
from hub.store import Store
from schemas.envelope import envelope_for

STATUS_FOR_RULE = {
    "known-case": 404,
    "known-advice-request": 404,
    "known-referral": 404,
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
    ) -> None:
        self.store = store
        self.publisher = EventPublisher(producer, names)
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
        envelopes = [
            envelope_for(
                s.event,
                source=s.source,
                event_id=s.event_id,
                correlation_id=s.correlation_id,
                causation_id=s.causation_id,
                time=s.time,
            )
            for s in part
        ]
        done = await self.store.processed_ids([e.id for e in envelopes])
        stored, _ = await self.store.contexts_for([s.event for s in part])
        for key, ctx in stored.items():  # a case an earlier part changed is newer than the store's copy
            contexts.setdefault(key, ctx)
        await self._wait_for_missing_facts(part, envelopes, contexts, done, everything)
        results: list[SubmitResult] = []
        sends = []
        for sub, env in zip(part, envelopes, strict=True):
            if env.id in done:
                results.append(SubmitResult("unchanged", env.id, 200, "already accepted"))
                continue
            case_id = case_of(sub.event) or ""
            refused = refusal(sub.sender, sub.event, contexts.get(case_id))
            if refused is not None:
                results.append(SubmitResult("rejected", env.id, 403, refused, None, "sender-authority"))
                continue
            try:
                outcome = evaluate(sub.event, contexts.get(case_id), self.rules, event_id=env.id)
            except RuleViolation as exc:
                if not (exc.rule == "known-case" and _opens_case_in_batch(case_id, everything)):
                    status = STATUS_FOR_RULE.get(exc.rule, 422)
                    results.append(SubmitResult("rejected", env.id, status, exc.message, exc.field, exc.rule))
                    continue
                outcome = None
            if outcome is not None and case_id and not isinstance(known := contexts.get(case_id), Referral):
                contexts[case_id] = evolve(known, case_id, sub.event, outcome)
            sends.append(await self.publisher.event(sub.event, env))
            results.append(SubmitResult("accepted", env.id))
        await asyncio.wait_for(asyncio.gather(*sends), self.publish_timeout)
        return results

    async def _wait_for_missing_facts(
        self,
        submissions: list[Submission],
        envelopes: list[Any],
        contexts: dict[str, Context],
        done: set[str],
        everything: list[Submission],
    ) -> None:
        """A reply can overtake the record it answers (an adult system acknowledging a referral the
        moment it arrives, before the hub has stored it). Give such facts a moment to land before
        refusing, then judge again with what the store has."""
        for delay in MISSING_FACT_WAITS:
            waiting = []
            for sub, env in zip(submissions, envelopes, strict=True):
                if env.id in done:
                    continue
                key = case_of(sub.event) or ""
                try:
                    evaluate(sub.event, contexts.get(key), self.rules, event_id=env.id)
                except RuleViolation as exc:
                    if exc.retryable and not (exc.rule == "known-case" and _opens_case_in_batch(key, everything)):
                        waiting.append(sub.event)
            if not waiting:
                return
            await asyncio.sleep(delay)
            fresh, _ = await self.store.contexts_for(waiting)
            contexts.update(fresh)


def _opens_case_in_batch(case_id: str, submissions: list[Submission]) -> bool:
    return any(
        getattr(s.event, "case_id", None) == case_id and s.event.event_type == "assessment-requested"
        for s in submissions
    )


class HubAdviceInbox:
    """The adapters' AdviceInbox over the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def pending_for(self, recipient_code: str) -> list[dict[str, Any]]:
        return await self.store.advice_requests_for(recipient_code)

    async def requests_for(self, recipient_code: str) -> list[dict[str, Any]]:
        return await self.store.advice_requests_for(recipient_code, pending_only=False)

    async def request(self, request_id: str) -> dict[str, Any] | None:
        return await self.store.advice_request(request_id)
