"""One hub instance wired together: the store, the producer, the delivery core and its FastStream
subscribers, the outbound channels, the clock watcher; and bringing it up: find or start Kafka,
make sure the topics exist, then serve HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import ssl
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import uvicorn
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.specification import AsyncAPI
from sqlalchemy.exc import SQLAlchemyError

from adapters.adult_social_care.delivery import AdultSocialCareChannel
from adapters.nhs_fhir.push import FhirPushChannel
from adapters.webhooks import WebhookChannel
from hub.collector import settle_collector
from hub.devtools import kafka_local
from hub.dispatch.engine import Dispatcher
from hub.dispatch.table import DispatchTable
from hub.domain.addressing import Directory
from hub.http.app import create_app
from hub.http.tls import ClientCertificateProtocol
from hub.logging import get_logger
from hub.ops.acls import apply_acls, catalogue_acls
from hub.ops.audit import record_operator_action
from hub.ops.scheduler import ClockWatcher, london_today
from hub.pipeline.delivery import DeliveryCore, StageHook
from hub.pipeline.failures import FailurePath
from hub.pipeline.kafka_client import (
    AioKafkaProducerAdapter,
    faststream_security,
    kafka_client_config,
    records_of,
    tolerant_batch_parser,
    undecoded,
)
from hub.pipeline.publisher import EventPublisher, TopicNames
from hub.pipeline.submit import HubEventPort
from hub.privacy.keys import master_secret
from hub.privacy.retention import RetentionReport, retention_sweep
from hub.privacy.service import Privacy
from hub.settings import AuthSettings, Settings, public_url
from hub.store import Store
from hub.topics import apply_topics, catalogue, outbound_topic, retry_topic
from schemas.common import Agency
from schemas.events import ALL_EVENTS, INBOUND_EVENTS

log = get_logger("hub.wiring")

MAX_BATCH = 500
# How long a batch consumer waits for records before handing over what it has. FastStream also
# sleeps this long after an empty poll, so it bounds the latency of the first event after a lull.
BATCH_WAIT_MS = 10
# How long the broker may hold a fetch open waiting for data. aiokafka leaves a partition out of the
# fetch in flight while records of it are still buffered, so new records for it wait this long at
# worst: the client's default (500 ms) would dominate end-to-end latency under steady load.
FETCH_WAIT_MS = 20
LIVE_BATCHES: dict[str, Any] = {
    "batch": True,
    "max_records": MAX_BATCH,
    "batch_timeout_ms": BATCH_WAIT_MS,
    "fetch_max_wait_ms": FETCH_WAIT_MS,
    "auto_offset_reset": "earliest",
    "ack_policy": AckPolicy.NACK_ON_ERROR,
    "parser": tolerant_batch_parser,
    "decoder": undecoded,
}
"""How the consumers of live traffic (the canonical topics, the outbound topics) take their records."""


class HubRuntime:
    """One hub instance: a consumer-group member for the canonical topics and the retry tiers."""

    def __init__(self, settings: Settings, bootstrap_servers: str, *, stage_hook: StageHook | None = None) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.names = TopicNames(settings.topic_prefix)
        self.store = Store(settings.database_url)
        self.privacy = Privacy.configured(settings.privacy, self.store.db)
        self.producer = AioKafkaProducerAdapter(bootstrap_servers, settings)
        self.core = DeliveryCore(
            self.store,
            self.producer,
            names=self.names,
            retry_delays=settings.retry_delays_seconds,
            hub_source=settings.source_uri,
            rules=settings.rules,
            directory=Directory(settings.health_commissioners),
            stage_hook=stage_hook,
            privacy=self.privacy,
            audit_v1=settings.audit.also_v1,
            lanes=settings.routing_lanes,
        )
        self.broker = KafkaBroker(
            # a list: FastStream wraps a string in one, and "a:9092,b:9092" would then be one host
            [host.strip() for host in bootstrap_servers.split(",") if host.strip()],
            client_id="ehc-hub",
            logger=logging.getLogger("hub.faststream"),
            security=faststream_security(settings),
        )
        self.watcher = ClockWatcher(
            self.store,
            self.producer,
            self.names,
            settings.rules,
            settings.source_uri,
            today=_pinned(settings.today) if settings.today else london_today,
            transition_rules=settings.transitions,
            privacy=self.privacy,
            retention=self.apply_retention if settings.retention.erase_when_due else None,
            retention_every=settings.retention.sweep_seconds,
        )
        self._watch_task: asyncio.Task[None] | None = None
        self.event_port = HubEventPort(
            self.store, self.producer, self.names, settings.rules, settings.publish_timeout_seconds, self.privacy
        )
        self.dispatch_table = DispatchTable(self.store.db, self.privacy)
        self.dispatcher = Dispatcher(
            self.dispatch_table,
            [
                AdultSocialCareChannel(settings.adult_social_care_endpoints, public_url(settings)),
                FhirPushChannel(settings.fhir_endpoints, f"{public_url(settings)}/fhir"),
                WebhookChannel(settings.webhooks, settings.dispatch.webhook_secrets),
            ],
            FailurePath(self.store, EventPublisher(self.producer, self.names), ()),
            self.event_port,
            lambda: self.watcher.today(),
            settings.dispatch,
        )
        self._dispatch_task: asyncio.Task[None] | None = None
        self._register()

    def _register(self) -> None:
        if "route" in self.settings.roles:
            self._register_routing()
        if "dispatch" in self.settings.roles:
            self._register_dispatch()
        self._document_channels()

    def _register_routing(self) -> None:
        core = self.core
        inbound = [self.names.physical(e.topic) for e in INBOUND_EVENTS]

        @self.broker.subscriber(*inbound, group_id=self.settings.group_id, **LIVE_BATCHES)
        async def on_canonical(message: KafkaMessage) -> None:
            await core.handle_batch(records_of(message.raw_message))

        for tier in range(1, len(self.settings.retry_delays_seconds) + 1):
            self.broker.subscriber(
                self.names.physical(retry_topic(tier)),
                group_id=f"{self.settings.group_id}.retry-{tier}",
                batch=True,
                max_records=MAX_BATCH,
                auto_offset_reset="earliest",
                ack_policy=AckPolicy.NACK_ON_ERROR,
                parser=tolerant_batch_parser,
                decoder=undecoded,
            )(self._retry_handler())

    def _register_dispatch(self) -> None:
        """Every agency's outbound topic into the dispatcher's table, in batches: the offsets are
        committed once the rows are written, and delivery goes on from the table (``hub.dispatch``)."""
        dispatcher = self.dispatcher

        @self.broker.subscriber(
            *(self.names.physical(outbound_topic(a)) for a in Agency),
            group_id=f"{self.settings.group_id}.dispatch",
            **LIVE_BATCHES,
        )
        async def on_outbound(message: KafkaMessage) -> None:
            await dispatcher.intake(records_of(message.raw_message))

    def _document_channels(self) -> None:
        for event in ALL_EVENTS:  # documents each canonical channel with its payload schema
            self.broker.publisher(
                self.names.physical(event.topic),
                title=f"{event.topic}:{event.event_type}",
                description=(event.__doc__ or "").strip(),
                schema=event,
            )

    def _retry_handler(self) -> Any:
        core = self.core

        async def on_retry(message: KafkaMessage) -> None:
            batch = records_of(message.raw_message)
            # Each tier has one delay, so records are due in the order they arrived: wait for the last.
            wait = max(core.due_time(r) for r in batch) - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await core.handle_batch(batch)

        return on_retry

    def asyncapi(self) -> Any:
        """The AsyncAPI 3 document of this instance's channels, generated by FastStream."""
        sealing = (
            "Personal details (identifiers, names, dates of birth, free text about a person) travel sealed "
            "on every topic: a sealed CloudEvent carries them in its `sealed` extension attribute and names "
            "its contract with the `dataschema` suffix `:sealed`. A system reading its own out.<agency>.v1 "
            "topic opens what was disclosed to it with POST /api/v1/inbox/open."
            if self.privacy is not None
            else None
        )
        factory = AsyncAPI(
            self.broker, title="EHC integration hub", version="0.1.0", description=sealing, schema_version="3.0.0"
        )
        return factory.to_specification()

    async def apply_retention(self, today: date, *, erase: bool = True, limit: int | None = None) -> RetentionReport:
        """Apply the retention schedules as of ``today``: erase who is due (with ``erase``, where
        personal data is sealed), each erasure audited; the report says who was due and held."""
        publisher = EventPublisher(self.producer, self.names)

        async def audit(record: dict[str, Any]) -> None:
            await record_operator_action(publisher, self.store, record)

        return await retention_sweep(
            self.store, self.privacy, self.settings.retention, today, erase=erase, audit=audit, limit=limit
        )

    async def start(self) -> None:
        await self.store.create_schema()
        await self.producer.start()
        await self.broker.start()
        if "dispatch" in self.settings.roles:
            self._dispatch_task = asyncio.create_task(self.dispatcher.run_forever())
        if self.settings.clock_sweep_seconds > 0 and "route" in self.settings.roles:
            self._watch_task = asyncio.create_task(self.watcher.run_forever(self.settings.clock_sweep_seconds))
        # Full collections had paused every request for a seventh of a second during a large import.
        settle_collector()
        log.info("hub started", group_id=self.settings.group_id, topic_prefix=self.settings.topic_prefix)

    async def stop(self) -> None:
        for task in (self._watch_task, self._dispatch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.dispatcher.close()
        await self.broker.stop()
        await self.producer.stop()
        await self.store.close()


def _pinned(day: date) -> Callable[[], date]:
    return lambda: day


def resolve_bootstrap(settings: Settings, *, start_local: bool) -> tuple[str, bool]:
    """KAFKA_BOOTSTRAP_SERVERS if set; else the running local broker; else start one (if allowed).

    Returns the bootstrap address and whether this call started the broker.
    """
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers, False
    running = kafka_local.status()
    if running is not None:
        return running.bootstrap_servers, False
    if not start_local:
        raise kafka_local.LocalKafkaError(
            "no Kafka: set KAFKA_BOOTSTRAP_SERVERS, or start the local broker with `hub kafka up`"
        )
    log.info("starting the local Kafka broker (the first start downloads its jars)")
    info = kafka_local.up()
    log.info("local kafka started", bootstrap_servers=info.bootstrap_servers)
    return info.bootstrap_servers, True


async def ensure_topics(settings: Settings, bootstrap: str) -> tuple[list[str], list[str]]:
    return await apply_topics(
        bootstrap,
        catalogue(len(settings.retry_delays_seconds)),
        prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        admin_config=kafka_client_config(settings),
    )


def apply_catalogue_acls(settings: Settings, bootstrap: str) -> int:
    acls = catalogue_acls(
        settings.topic_prefix, settings.group_id, settings.kafka_hub_principal, settings.kafka_agency_principals
    )
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    config = {k: v for k, v in kafka_client_config(settings).items() if k != "ssl_context"}
    return apply_acls(bootstrap, config, acls, cafile)


class StartupFailure(Exception):
    """What stops the hub starting, said in one line an operator can act on."""


async def preflight(settings: Settings, bootstrap: str) -> None:
    """Reach the event log and open the store before serving, so that a wrong address or an
    unwritable database is one line on the terminal and a non-zero exit, not a traceback."""
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)  # its own line per failed attempt would bury ours
    try:
        await ensure_topics(settings, bootstrap)
    except (KafkaError, OSError) as exc:
        raise StartupFailure(f"the event log (Kafka) at {bootstrap} cannot be reached: {exc}") from None
    finally:
        aiokafka_log.setLevel(level)
    where = settings.database_url.split("@")[-1]
    if settings.database_url.startswith("sqlite") and ":///" in settings.database_url:
        # Opened here, synchronously, first: aiosqlite's thread would report its own failure on
        # stderr at exit as well, racing the one line below.
        path = settings.database_url.split(":///", 1)[1]
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
                db.execute("BEGIN IMMEDIATE")
                db.rollback()
        except sqlite3.Error as exc:
            raise StartupFailure(f"the store {where} cannot be opened for writing: {exc}") from None
    store = Store(settings.database_url)
    try:
        await store.create_schema()
        await store.ping()
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise StartupFailure(f"the store {where} cannot be opened for writing: {reason}") from None
    finally:
        await store.close()
    if settings.privacy.seal_personal_data:
        try:
            master_secret(settings.privacy)
        except (OSError, ValueError) as exc:
            raise StartupFailure(f"the privacy master secret cannot be read or made: {exc}") from None


def serve(settings: Settings, bootstrap: str) -> None:
    asyncio.run(preflight(settings, bootstrap))
    app = create_app(HubRuntime(settings, bootstrap))
    log.info(
        "hub listening",
        url=f"{'https' if settings.auth.tls_cert_file else 'http'}://{settings.http_host}:{settings.http_port}",
        kafka=bootstrap,
        database=settings.database_url.split("@")[-1],
    )
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        **tls_options(settings.auth),
    )


def tls_options(auth: AuthSettings) -> dict[str, Any]:
    """Uvicorn's TLS settings: HTTPS with the configured certificate, and client certificates
    required when a CA for them is configured (mutual TLS)."""
    if auth.tls_cert_file is None:
        return {}
    options: dict[str, Any] = {"ssl_certfile": str(auth.tls_cert_file), "ssl_keyfile": str(auth.tls_key_file or "")}
    if auth.tls_client_ca_file is not None:
        required = ssl.CERT_REQUIRED if auth.tls_require_client_certificate else ssl.CERT_OPTIONAL
        options.update(
            ssl_ca_certs=str(auth.tls_client_ca_file), ssl_cert_reqs=required, http=ClientCertificateProtocol
        )
    return options
