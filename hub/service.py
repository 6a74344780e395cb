"""Bringing a hub up: find or start Kafka, make sure the topics exist, then serve."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import uvicorn

from hub.acls import apply_acls, catalogue_acls
from hub.devtools import kafka_local
from hub.http.app import create_app
from hub.http.tls import ClientCertificateProtocol
from hub.logging import get_logger
from hub.runtime import HubRuntime, kafka_client_config
from hub.settings import AuthSettings, Settings
from hub.topics import apply_topics, catalogue

log = get_logger("hub.service")


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


def serve(settings: Settings, bootstrap: str) -> None:
    asyncio.run(ensure_topics(settings, bootstrap))
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
