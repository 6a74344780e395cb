"""Rebuild the projection store from the topics alone (Kafka is the record; the store is a view).

The canonical topics are replayed merged into the order their records were written, since a
case's events travel on several topics and a rule may depend on which came first. An event that
broke a rule only because its prerequisite had not arrived yet (live processing retried it) is
tried again as the replay moves on, as the retry tiers did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from hub.collector import settle_collector
from hub.domain.addressing import Directory
from hub.domain.facts import RaisedAlert
from hub.domain.judging import case_of
from hub.domain.workflow import RuleViolation
from hub.logging import get_logger
from hub.ops.dlq import audit_row_from_record
from hub.ops.kafka_io import read_in_time_order, read_topic
from hub.pipeline.delivery import read_records, waves_by_case
from hub.pipeline.failures import dead_letter_row
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import Accepted, Record
from hub.pipeline.routing import Router
from hub.privacy.service import Privacy
from hub.settings import StatutoryRules
from hub.store import Store
from hub.store.tables import REPLAY_UNREAD_INDEXES
from hub.topics import ALERTS_TOPIC, DLQ_TOPIC, OPS_AUDIT_TOPIC
from schemas.envelope import EventRejected, decode, validate_document
from schemas.events import INBOUND_EVENTS, AlertRaised

BATCH = 2000
log = get_logger("hub.ops.rebuild")


class Progress:
    """Reports a replay's progress: records read against the total, the rate and the time left,
    as a log line every ``every`` seconds (a terminal may show a bar instead, see ``hub rebuild``)."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.started = clock()
        self.last = self.started

    def figures(self, read: int, total: int) -> dict[str, float | int]:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = read / elapsed
        left = (total - read) / rate if rate else 0.0
        return {"read": read, "total": total, "per_second": round(rate), "seconds_left": round(left)}

    def __call__(self, read: int, total: int) -> None:
        now = self.clock()
        if now - self.last >= self.every or read == total:
            self.last = now
            log.info("rebuild progress", **self.figures(read, total))


async def _replay(store: Store, chunk: list[Accepted], router: Router) -> list[Accepted]:
    """Apply events as live processing did, each judged against its case. Returns those that broke
    a rule only for want of an earlier fact (tried again later); the others that broke a rule are
    skipped, as live processing dead-lettered them and only a redriven copy counts."""
    done = await store.processed_ids([a.envelope.id for a in chunk])
    deferred: list[Accepted] = []
    for wave in waves_by_case([a for a in chunk if a.envelope.id not in done]):
        contexts, identity = await store.contexts_for([a.event for a in wave])
        effects = []
        for a in wave:
            try:
                result = router.route(a, contexts.get(case_of(a.event) or ""), identity, with_records=False)
            except RuleViolation as exc:
                if exc.retryable:
                    deferred.append(a)
                continue
            effects.append(result.effect)
        await store.apply(effects)
    return deferred


async def _accepted(records: list[Record], privacy: Privacy | None) -> list[Accepted]:
    """The records that are events, opened where sealed (a person erased since reads as erased, as
    live processing now shows them): the keys of a whole chunk come in one read."""
    accepted = []
    for record, origin, found in await read_records(records, privacy):
        if isinstance(found, EventRejected):
            continue
        try:
            envelope, event = validate_document(found)
        except EventRejected:
            continue
        accepted.append(Accepted(record, origin, envelope, event))
    return accepted


async def rebuild(
    store: Store,
    bootstrap_servers: str,
    names: TopicNames,
    hub_source: str,
    rules: StatutoryRules | None = None,
    directory: Directory | None = None,
    *,
    privacy: Privacy | None,
    progress: Callable[[int, int], None] | None = None,
    **client_config: Any,
) -> dict[str, int]:
    """Drop and refill every table. Returns the row counts afterwards.

    ``privacy`` opens what was sealed, with the data keys of the store the events were sealed for
    (the live one): a rebuild without them would make everyone erased. None only where nothing
    was sealed.

    Dead letters are read first: a record that was dead-lettered is skipped where it first
    arrived, because live processing never applied it (only a redriven copy, if any, counts).
    """
    settle_collector()
    router = Router(hub_source, rules or StatutoryRules(), names, directory or Directory())
    await store.drop_schema()
    await store.create_schema()
    dead: set[tuple[str, int, int]] = set()
    async for record in read_topic(bootstrap_servers, names.physical(DLQ_TOPIC), client_config=client_config):
        row = dead_letter_row(record)
        dead.add((row["original_topic"], row["original_partition"], row["original_offset"]))
        await store.record_dead_letter(row)
    async for record in read_topic(bootstrap_servers, names.physical(OPS_AUDIT_TOPIC), client_config=client_config):
        await store.record_ops_audit(audit_row_from_record(record))
    topics = list(dict.fromkeys(names.physical(e.topic) for e in INBOUND_EVENTS))
    async with store.db.bulk_load(REPLAY_UNREAD_INDEXES):
        chunk: list[Record] = []
        waiting: list[Accepted] = []
        async for record in read_in_time_order(
            bootstrap_servers, topics, client_config=client_config, progress=progress or Progress()
        ):
            if (record.topic, record.partition, record.offset) not in dead:
                chunk.append(record)
            if len(chunk) >= BATCH:
                waiting = await _replay(store, waiting + await _accepted(chunk, privacy), router)
                chunk = []
        waiting = await _replay(store, waiting + await _accepted(chunk, privacy), router)
        while waiting:  # what waited on a later fact, until nothing more applies
            still = await _replay(store, waiting, router)
            if len(still) == len(waiting):
                break
            waiting = still
        raised: list[RaisedAlert] = []
        async for record in read_topic(bootstrap_servers, names.physical(ALERTS_TOPIC), client_config=client_config):
            _, alert = decode(record.value)
            assert isinstance(alert, AlertRaised)
            raised.append(RaisedAlert(alert, date.fromisoformat(record.header("hub-raised-on") or "1970-01-01")))
            if len(raised) >= BATCH:  # a transaction per alert made this the slowest part of a rebuild
                await store.record_alerts(raised)
                raised = []
        await store.record_alerts(raised)
    return await store.counts()
