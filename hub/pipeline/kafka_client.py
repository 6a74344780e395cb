"""The hub's Kafka clients: security settings shared by every client, the acknowledged producer
the delivery core writes through, and what FastStream is told about the records it hands over."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from hub.pipeline.records import Record
from hub.settings import Settings

LARGE_MESSAGE_BYTES = 10 * 1024 * 1024


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
            # a send waits this long at most for metadata or an acknowledgement, not aiokafka's 40 s
            "request_timeout_ms": int(settings.publish_timeout_seconds * 1000),
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

    async def reachable(self, timeout: float) -> bool:
        """Whether a broker answers a metadata request within ``timeout`` seconds."""
        if self._producer is None:
            return False
        try:
            return bool(await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout))
        except Exception:
            return False

    async def send(self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        assert self._producer is not None, "producer not started"
        return await self._producer.send(topic, value=value, key=key, headers=headers)


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


def records_of(raw: Any) -> Sequence[Record]:
    items = raw if isinstance(raw, tuple | list) else (raw,)
    return [Record.from_consumer_record(r) for r in items]
