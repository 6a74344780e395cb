"""Rebuild the projection store from the topics alone (Kafka is the record; the store is a view)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.domain.addressing import Directory
from hub.domain.facts import RaisedAlert
from hub.domain.judging import case_of
from hub.domain.workflow import RuleViolation
from hub.ops.dlq import audit_row_from_record
from hub.ops.kafka_io import read_topic
from hub.pipeline.delivery import waves_by_case
from hub.pipeline.failures import dead_letter_row
from hub.pipeline.publisher import TopicNames
from hub.pipeline.records import Accepted, Origin
from hub.pipeline.routing import Router
from hub.settings import StatutoryRules
from hub.store import Store
from hub.topics import ALERTS_TOPIC, DLQ_TOPIC, OPS_AUDIT_TOPIC
from schemas.envelope import EventRejected, decode
from schemas.events import INBOUND_EVENTS, AlertRaised

BATCH = 2000


async def _replay(store: Store, chunk: list[Accepted], router: Router) -> None:
    """Apply events as live processing did: each judged against its case, rule-breakers skipped
    (live processing dead-lettered them, and only a redriven copy counts)."""
    done = await store.processed_ids([a.envelope.id for a in chunk])
    for wave in waves_by_case([a for a in chunk if a.envelope.id not in done]):
        contexts, identity = await store.contexts_for([a.event for a in wave])
        effects = []
        for a in wave:
            try:
                result = router.route(a, contexts.get(case_of(a.event) or ""), identity, with_records=False)
            except RuleViolation:
                continue
            effects.append(result.effect)
        await store.apply(effects)


async def rebuild(
    store: Store,
    bootstrap_servers: str,
    names: TopicNames,
    hub_source: str,
    rules: StatutoryRules | None = None,
    directory: Directory | None = None,
    **client_config: Any,
) -> dict[str, int]:
    """Drop and refill every table. Returns the row counts afterwards.

    Dead letters are read first: a record that was dead-lettered is skipped where it first
    arrived, because live processing never applied it (only a redriven copy, if any, counts).
    """
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
    for topic in dict.fromkeys(names.physical(e.topic) for e in INBOUND_EVENTS):
        chunk: list[Accepted] = []
        async for record in read_topic(bootstrap_servers, topic, client_config=client_config):
            if (record.topic, record.partition, record.offset) in dead:
                continue
            try:
                envelope, event = decode(record.value)
            except EventRejected:
                continue
            chunk.append(Accepted(record, Origin.of(record), envelope, event))
            if len(chunk) >= BATCH:
                await _replay(store, chunk, router)
                chunk = []
        await _replay(store, chunk, router)
    async for record in read_topic(bootstrap_servers, names.physical(ALERTS_TOPIC), client_config=client_config):
        _, alert = decode(record.value)
        assert isinstance(alert, AlertRaised)
        raised_on = date.fromisoformat(record.header("hub-raised-on") or "1970-01-01")
        await store.record_alerts([RaisedAlert(alert, raised_on)])
    return await store.counts()
