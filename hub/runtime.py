"""Wires the delivery core to Kafka: FastStream subscribers in, an idempotent producer out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from faststream.specification import AsyncAPI

from adapters.adult_social_care.delivery import AdultSocialCareDispatcher
from adapters.nhs_fhir.push import FhirPushDispatcher
from adapters.webhooks import PermanentDeliveryError, WebhookDispatcher
from hub.delivery import DeliveryCore, StageHook
from hub.logging import get_logger
from hub.publisher import TopicNames
from hub.records import Record
from hub.scheduler import ClockWatcher, london_today
from hub.settings import Settings, public_url
from hub.store import Store
from hub.submit import HubEventPort
from hub.topics import outbound_topic, retry_topic
from schemas.common import Agency
from schemas.events import ALL_EVENTS, INBOUND_EVENTS

log = get_logger("hub.runtime")

MAX_BATCH = 500
# How long a batch consumer waits for records before handing over what it has. FastStream also
# sleeps this long after an empty poll, so it bounds the latency of the first event after a lull.
BATCH_WAIT_MS = 10
# How long the broker may hold a fetch open waiting for data. aiokafka leaves a partition out of the
# fetch in flight while records of it are still buffered, so new records for it wait this long at
# worst: the client's default (500 ms) would dominate end-to-end latency under steady load.
FETCH_WAIT_MS = 20
LARGE_MESSAGE_BYTES = 10 * 1024 * 1024
WEBHOOK_AGENCIES = (Agency.SCHOOL, Agency.EDUCATIONAL_PSYCHOLOGY, Agency.CHILDRENS_SOCIAL_CARE)


def kafka_client_config(settings: Settings) -> dict[str, Any]:
    """Security settings shared by every client the hub opens."""
    cfg: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cfg["ssl_context"] = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_sasl_mechanism:
        cfg.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    return cfg


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The same credentials expressed as FastStream's security object."""
    if not settings.kafka_sasl_mechanism:
        return None
    use_ssl = settings.kafka_security_protocol == "SASL_SSL"
    user, password = settings.kafka_sasl_username or "", settings.kafka_sasl_password or ""
    kinds = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}
    kind = kinds[settings.kafka_sasl_mechanism.upper()]
    ssl_context = kafka_client_config(settings).get("ssl_context") if use_ssl else None
    return kind(username=user, password=password, use_ssl=use_ssl, ssl_context=ssl_context)


class AioKafkaProducerAdapter:
    """The core's Producer protocol over aiokafka: ``send`` returns the future of the broker's ack."""

    def __init__(self, bootstrap_servers: str, settings: Settings) -> None:
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": 2,
            "max_batch_size": 256 * 1024,
            "max_request_size": LARGE_MESSAGE_BYTES,  # health advice may carry a PDF report
            **kafka_client_config(settings),
        }
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka binds its client to the running event loop.
        self._producer = AIOKafkaProducer(**self._config)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        assert self._producer is not None, "producer not started"
        return await self._producer.send(topic, value=value, key=key, headers=headers)


class HubRuntime:
    """One hub instance: a consumer-group member for the canonical topics and the retry tiers."""

    def __init__(self, settings: Settings, bootstrap_servers: str, *, stage_hook: StageHook | None = None) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.names = TopicNames(settings.topic_prefix)
        self.store = Store(settings.database_url)
        self.producer = AioKafkaProducerAdapter(bootstrap_servers, settings)
        self.core = DeliveryCore(
            self.store,
            self.producer,
            names=self.names,
            retry_delays=settings.retry_delays_seconds,
            hub_source=settings.source_uri,
            rules=settings.rules,
            stage_hook=stage_hook,
        )
        self.broker = KafkaBroker(
            bootstrap_servers,
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
        )
        self._watch_task: asyncio.Task[None] | None = None
        self.event_port = HubEventPort(self.store, self.producer, self.names, settings.rules)
        self.webhooks = WebhookDispatcher(
            settings.webhooks, self.event_port, lambda: self.watcher.today(), settings.webhook_retry_delays_seconds
        )
        self.adult_social_care = AdultSocialCareDispatcher(
            settings.adult_social_care_endpoints, public_url(settings), settings.webhook_retry_delays_seconds
        )
        self.fhir_push = FhirPushDispatcher(
            settings.fhir_endpoints,
            self.event_port,
            lambda: self.watcher.today(),
            settings.webhook_retry_delays_seconds,
            f"{public_url(settings)}/fhir",
        )
        self._register()

    def _register(self) -> None:
        core = self.core
        inbound = [self.names.physical(e.topic) for e in INBOUND_EVENTS]

        @self.broker.subscriber(
            *inbound,
            group_id=self.settings.group_id,
            batch=True,
            max_records=MAX_BATCH,
            batch_timeout_ms=BATCH_WAIT_MS,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            parser=tolerant_batch_parser,
            decoder=undecoded,
        )
        async def on_canonical(message: KafkaMessage) -> None:
            await core.handle_batch(_records(message.raw_message))

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

        # Outbound delivery to agencies' systems, one consumer group per channel, so a recipient that is
        # down (and retried for as long as it takes) holds up only its own channel.
        self._deliver_outbound(
            "webhooks",
            WEBHOOK_AGENCIES,
            self.webhooks.deliver,
            "recipient refused an advice request; it stays in their inbox to fetch",
        )
        self._deliver_outbound(
            "fhir-push",
            (Agency.NHS,),
            self.fhir_push.deliver,
            "NHS provider refused an advice request; it stays available to fetch",
        )
        self._deliver_outbound(
            "adult-social-care",
            (Agency.ADULT_SOCIAL_CARE,),
            self.adult_social_care.deliver,
            "adult social care system refused a message",
        )

        for event in ALL_EVENTS:  # documents each canonical channel with its payload schema
            self.broker.publisher(
                self.names.physical(event.topic),
                title=f"{event.topic}:{event.event_type}",
                description=(event.__doc__ or "").strip(),
                schema=event,
            )

    def _deliver_outbound(
        self,
        channel: str,
        agencies: Sequence[Agency],
        deliver: Callable[[bytes | None], Awaitable[bool]],
        refused: str,
    ) -> None:
        async def on_outbound(message: KafkaMessage) -> None:
            try:
                await deliver(_records(message.raw_message)[0].value)
            except PermanentDeliveryError as exc:
                log.error(refused, channel=channel, error=str(exc))

        self.broker.subscriber(
            *(self.names.physical(outbound_topic(a)) for a in agencies),
            group_id=f"{self.settings.group_id}.{channel}",
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            max_poll_interval_ms=60 * 60 * 1000,  # a recipient may be down for a while; we keep retrying
            parser=tolerant_parser,
            decoder=undecoded,
        )(on_outbound)

    def _retry_handler(self) -> Any:
        core = self.core

        async def on_retry(message: KafkaMessage) -> None:
            batch = _records(message.raw_message)
            # Each tier has one delay, so records are due in the order they arrived: wait for the last.
            wait = max(core.due_time(r) for r in batch) - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await core.handle_batch(batch)

        return on_retry

    def asyncapi(self) -> Any:
        """The AsyncAPI 3 document of this instance's channels, generated by FastStream."""
        factory = AsyncAPI(self.broker, title="EHC integration hub", version="0.1.0", schema_version="3.0.0")
        return factory.to_specification()

    async def start(self) -> None:
        await self.store.create_schema()
        await self.producer.start()
        await self.broker.start()
        if self.settings.clock_sweep_seconds > 0:
            self._watch_task = asyncio.create_task(self.watcher.run_forever(self.settings.clock_sweep_seconds))
        log.info("hub started", group_id=self.settings.group_id, topic_prefix=self.settings.topic_prefix)

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        await self.broker.stop()
        await self.producer.stop()
        await self.store.close()


async def tolerant_batch_parser(records: tuple[Any, ...], original: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's parser decodes every header as UTF-8 and would fail on a producer's binary header,
    redelivering the batch forever. Give it a text view, but keep the exact records for the core,
    so a dead letter still holds the headers byte for byte."""
    safe = tuple(
        r if _headers_are_text(r.headers) else dataclasses.replace(r, headers=_text_headers(r.headers)) for r in records
    )
    message = await original(safe)
    message.raw_message = records
    return message


async def tolerant_parser(record: Any, original: Callable[..., Awaitable[Any]]) -> Any:
    message = await tolerant_batch_parser((record,), lambda safe: original(safe[0]))
    message.raw_message = record
    return message


async def undecoded(message: Any, original: Callable[..., Awaitable[Any]]) -> Any:
    """The core decodes records itself (and dead-letters those it cannot); FastStream need not try."""
    return message.body


def _headers_are_text(headers: Sequence[tuple[str, bytes]]) -> bool:
    try:
        for _, value in headers:
            value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(k, v.decode("utf-8", errors="replace").encode()) for k, v in headers]


def _pinned(day: date) -> Callable[[], date]:
    return lambda: day


def _records(raw: Any) -> Sequence[Record]:
    items = raw if isinstance(raw, tuple | list) else (raw,)
    return [Record.from_consumer_record(r) for r in items]
