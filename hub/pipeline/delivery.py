"""The delivery core: validate, route, publish, store; then the consumer commits.

Guarantees, in order of the steps for each batch of records:

1. A record that can never succeed (not JSON, unknown type, invalid) goes straight to the
   dead-letter topic, unchanged, with the reason in Kafka-Connect-style headers.
2. Records already applied (their event id is in the store) are skipped: redelivery is harmless.
3. Outbound records are published with an idempotent ``acks=all`` producer.
4. The store writes every effect and the event id in one transaction, while the broker's
   acknowledgements arrive; it commits only the effects of events whose records were all
   acknowledged (waiting for them costs about as long as the writes, so they overlap).
5. Only then does the handler return and FastStream commit the offsets.

A record that fails in steps 3 or 4 is copied to the next retry tier (a topic whose consumer
waits out the tier's delay), so it never blocks the records behind it. After the last tier it is
dead-lettered. If even that copy cannot be written the handler raises, the offsets are not
committed, and the batch is read again.
"""

from __future__ import annotations

import asyncio
import itertools
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from hub.cooperative import share_the_loop
from hub.domain.addressing import Directory
from hub.domain.facts import CaseEffect
from hub.domain.identity import IdentityContext
from hub.domain.judging import case_of
from hub.domain.state import Context
from hub.domain.workflow import RuleViolation
from hub.logging import bind_message_context, get_logger, logs_info
from hub.pipeline.failures import DeadLetterStore, FailurePath
from hub.pipeline.publisher import EventPublisher, Producer, TopicNames
from hub.pipeline.records import Accepted, Origin, Record
from hub.pipeline.routing import Router
from hub.settings import StatutoryRules
from schemas.envelope import Envelope, EventRejected, read_document, validate_document
from schemas.events import Event

if TYPE_CHECKING:
    from hub.privacy.service import Privacy

log = get_logger("hub.pipeline.delivery")

StageHook = Callable[[str, Envelope], Awaitable[None] | None]


class DeliveryStore(DeadLetterStore, Protocol):
    """What the delivery core needs of the store (``hub.store.Store`` is one)."""

    async def processed_ids(self, event_ids: Sequence[str]) -> set[str]: ...

    async def contexts_for(self, events: Sequence[Event]) -> tuple[dict[str, Context], IdentityContext]: ...

    async def apply(
        self, effects: Sequence[CaseEffect], confirm: Callable[[], Awaitable[set[str]]] | None = None
    ) -> int: ...


class DeliveryCore:
    def __init__(
        self,
        store: DeliveryStore,
        producer: Producer,
        *,
        names: TopicNames,
        retry_delays: Sequence[float],
        hub_source: str,
        rules: StatutoryRules | None = None,
        directory: Directory | None = None,
        stage_hook: StageHook | None = None,
        privacy: Privacy | None = None,
        audit_v1: bool = False,
        lanes: int = 1,
    ) -> None:
        self.lanes = max(1, lanes)
        self.rules = rules or StatutoryRules()
        self.store = store
        self.producer = producer
        self.names = names
        self.privacy = privacy
        self.publisher = EventPublisher(producer, names, privacy)
        self.router = Router(hub_source, self.rules, names, directory or Directory(), audit_v1)
        self.failures = FailurePath(store, self.publisher, retry_delays)
        self.hub_source = hub_source
        self.stage_hook = stage_hook
        self.processed = 0

    @property
    def dead_lettered(self) -> int:
        return self.failures.dead_lettered

    due_time = staticmethod(FailurePath.due_time)

    async def handle_batch(self, batch: Sequence[Record]) -> None:
        accepted: list[Accepted] = []
        for record, origin, found in await read_records(batch, self.privacy):
            await share_the_loop()
            try:
                if isinstance(found, EventRejected):
                    raise found
                envelope, event = validate_document(found)
            except EventRejected as exc:
                await self.failures.dead_letter(record, origin, "validate", exc, rule=exc.rule, field=exc.field)
                continue
            accepted.append(Accepted(record, origin, envelope, event))
        if not accepted:
            return

        done = await self.store.processed_ids([a.envelope.id for a in accepted])
        pending: list[Accepted] = []
        seen: set[str] = set()
        for a in accepted:
            if a.envelope.id in done or a.envelope.id in seen:
                continue
            seen.add(a.envelope.id)
            pending.append(a)

        lanes = lanes_by_case(pending, self.lanes)
        if len(lanes) == 1:
            await self._process_lane(lanes[0])
            return
        tasks = [asyncio.ensure_future(self._process_lane(lane)) for lane in lanes]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # the batch is read again: no lane goes on without it
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _process_lane(self, items: list[Accepted]) -> None:
        """The events of one lane's cases, wave after wave. Lanes run side by side: while one
        waits for the broker's acknowledgements and the store's commit, another judges and sends."""
        for wave in waves_by_case(items):
            await self._process_wave(wave)

    async def _process_wave(self, wave: list[Accepted]) -> None:
        """Events of distinct cases: each is judged against its case as the store has it now."""
        contexts, identity = await self.store.contexts_for([a.event for a in wave])
        routed: list[Accepted] = []
        for a in wave:
            await share_the_loop()
            bind_message_context(
                event_id=a.envelope.id, correlation_id=a.envelope.correlationid, causation_id=a.envelope.causationid
            )
            try:
                await self._hook("route", a.envelope)
                a.routing = self.router.route(a, contexts.get(case_of(a.event) or ""), identity)
                routed.append(a)
            except RuleViolation as exc:
                if exc.retryable:
                    await self.failures.retry_or_dead_letter(a, "rules", exc)
                else:
                    await self.failures.dead_letter(
                        a.record, a.origin, "rules", exc, rule=exc.rule, field=exc.field, event=a
                    )
            except Exception as exc:
                await self.failures.retry_or_dead_letter(a, "route", exc)

        sent = await self._send_all(routed)
        if not sent:
            return
        published: list[Accepted] | None = None
        refused: list[tuple[Accepted, Exception]] = []

        async def acknowledged() -> set[str]:
            nonlocal published
            published = await self._acknowledged(sent, refused)
            for a in published:
                await self._hook("store", a.envelope)
            return {a.envelope.id for a in published}

        try:
            applied = await self.store.apply([a.routing.effect for a, _ in sent if a.routing], confirm=acknowledged)
        except Exception as exc:
            if published is None:  # the store failed before the acknowledgements were read
                published = await self._acknowledged(sent, refused)
            for a in published:
                await self.failures.retry_or_dead_letter(a, "store", exc)
            applied = 0
        # Only now, outside the store's transaction: after the last tier a dead letter is indexed in the store.
        for a, failure in refused:
            await self.failures.retry_or_dead_letter(a, "publish", failure)
        if not applied:
            return
        self.processed += applied
        if logs_info():
            for a in published or ():
                bind_message_context(
                    event_id=a.envelope.id, correlation_id=a.envelope.correlationid, causation_id=a.envelope.causationid
                )
                log.info(
                    "event routed",
                    event_type=a.event.event_type,
                    case_id=case_of(a.event),
                    recipients=len(a.routing.effect.deliveries) if a.routing else 0,
                )

    async def _send_all(self, routed: list[Accepted]) -> list[tuple[Accepted, list[Awaitable[Any]]]]:
        """Hand every outbound record to the producer; the acknowledgements are awaited later."""
        sent: list[tuple[Accepted, list[Awaitable[Any]]]] = []
        values = await self._values(routed)
        for a, written in zip(routed, values, strict=True):
            await share_the_loop()
            try:
                await self._hook("publish", a.envelope)
                assert a.routing is not None
                records = zip(a.routing.records, written, strict=True)
                sent.append((a, [await self.publisher.cloudevent(o.topic, v, o.key, o.headers) for o, v in records]))
            except Exception as exc:
                await self.failures.retry_or_dead_letter(a, "publish", exc)
        return sent

    async def _values(self, routed: list[Accepted]) -> list[list[bytes]]:
        """Each event's outbound records as they are written, sealed where configured: the keys of a
        whole wave come in one call."""
        documents = [[o.document for o in a.routing.records] if a.routing else [] for a in routed]
        if self.privacy is None:
            return [[orjson.dumps(d) for d in docs] for docs in documents]
        sealed = iter(await self.privacy.seal([d for docs in documents for d in docs]))
        return [[orjson.dumps(next(sealed)) for _ in docs] for docs in documents]

    async def _acknowledged(
        self, sent: list[tuple[Accepted, list[Awaitable[Any]]]], refused: list[tuple[Accepted, Exception]]
    ) -> list[Accepted]:
        """The events whose every outbound record the broker acknowledged; the others are added to
        ``refused``. One wait for the whole wave: a task per event cost more than the wait itself."""
        results = iter(await asyncio.gather(*(f for _, futures in sent for f in futures), return_exceptions=True))
        published: list[Accepted] = []
        for a, futures in sent:
            outcomes = list(itertools.islice(results, len(futures)))
            failure = next((r for r in outcomes if isinstance(r, BaseException)), None)
            if failure is None:
                published.append(a)
            elif isinstance(failure, Exception):
                refused.append((a, failure))
            else:
                raise failure  # a send cancelled: the batch is read again
        return published

    async def _hook(self, stage: str, envelope: Envelope) -> None:
        if self.stage_hook is not None:
            result = self.stage_hook(stage, envelope)
            if result is not None:
                await result


async def read_records(
    batch: Sequence[Record], privacy: Privacy | None
) -> list[tuple[Record, Origin, dict[str, Any] | EventRejected]]:
    """Each record's document, opened where it was sealed, or why it cannot be read. The data
    keys of the whole batch come in one read of the store; if they cannot, the batch is read
    again later rather than judged without them."""
    read: list[tuple[Record, Origin, dict[str, Any] | EventRejected]] = []
    for record in batch:
        try:
            read.append((record, Origin.of(record), read_document(record.value)))
        except EventRejected as exc:
            read.append((record, Origin.of(record), exc))
    if privacy is not None:
        docs = [(i, found) for i, (_, _, found) in enumerate(read) if not isinstance(found, EventRejected)]
        opened = await privacy.open([d for _, d in docs])
        for (i, _), (doc, _) in zip(docs, opened, strict=True):
            read[i] = (read[i][0], read[i][1], doc)
    return read


def _order_key(a: Accepted) -> str:
    """What an event keeps its order within: its case, or, for an event of no case, itself."""
    return case_of(a.event) or a.envelope.id


def lanes_by_case(items: Sequence[Accepted], lanes: int) -> list[list[Accepted]]:
    """Split a batch into at most ``lanes`` parts, each case wholly in one, in arrival order: a
    case's events are still judged one after another, each against the effects of the last."""
    if lanes == 1:
        return [list(items)]
    parts: list[list[Accepted]] = [[] for _ in range(lanes)]
    for a in items:
        parts[zlib.crc32(_order_key(a).encode()) % lanes].append(a)
    return [part for part in parts if part]


def waves_by_case(items: Sequence[Accepted]) -> list[list[Accepted]]:
    """Split a batch so each wave holds at most one event per case, in arrival order: an event
    sees the effects of the earlier events of its case, and distinct cases still go together."""
    waves: list[list[Accepted]] = []
    depth: dict[str, int] = {}
    for a in items:
        key = _order_key(a)
        level = depth.get(key, 0)
        depth[key] = level + 1
        if level == len(waves):
            waves.append([])
        waves[level].append(a)
    return waves
