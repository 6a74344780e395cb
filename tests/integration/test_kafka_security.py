"""The hub over SASL/SCRAM on a broker that denies whatever no ACL allows, with the catalogue's
ACLs applied: the hub works end to end as its own principal, and an agency's principal reads its
own outbound topic and nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from hub.devtools import kafka_local
from hub.ops.kafka_io import read_topic
from hub.wiring import apply_catalogue_acls, ensure_topics
from schemas.common import Agency, OrganisationRef
from schemas.events import AssessmentDecisionMade
from tests.helpers import eventually, isolated_settings, open_cases, running_hub, send_event


def decision_naming_the_trust(case_id: str) -> AssessmentDecisionMade:
    """A decision copied to the NHS trust it names (and to no one it does not)."""
    trust = OrganisationRef(agency=Agency.NHS, code="RBS")
    return AssessmentDecisionMade(
        case_id=case_id, la_code="202", decision="not-assess", decision_date=date(2026, 2, 9), advisers=[trust]
    )


pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_local.ClusterInfo]:
    state = Path(tmp_path_factory.mktemp("secure-kafka"))
    info = kafka_local.up(state_dir=state, secure=True)
    try:
        yield info
    finally:
        kafka_local.down(state)


def _as(info: kafka_local.ClusterInfo, user: str) -> dict[str, object]:
    cfg = info.client_config(user)
    return {
        "kafka_security_protocol": cfg["security_protocol"],
        "kafka_sasl_mechanism": cfg["sasl_mechanism"],
        "kafka_sasl_username": cfg["sasl_plain_username"],
        "kafka_sasl_password": cfg["sasl_plain_password"],
    }


def _fetch_error(bootstrap: str, client_config: dict[str, object], topic: str, group: str) -> str | None:
    """What the broker answers a principal fetching ``topic`` from the start: the error's name, or
    None once a record (or the end of the partition) arrives."""
    from confluent_kafka import Consumer, KafkaError

    from hub.ops.acls import librdkafka_config

    consumer = Consumer(
        {
            **librdkafka_config(bootstrap, client_config),
            "group.id": group,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is None or error.code() == KafkaError._PARTITION_EOF:
                return None
            return str(error.name())
        raise AssertionError(f"no answer fetching {topic}")
    finally:
        consumer.close()


async def test_the_hub_runs_as_its_own_principal_and_agencies_read_only_their_own_topic(
    secure_kafka: kafka_local.ClusterInfo, sqlite_url: str
) -> None:
    bootstrap = secure_kafka.bootstrap_servers
    admin = isolated_settings(sqlite_url, **_as(secure_kafka, "admin"))

    await ensure_topics(admin, bootstrap)
    assert apply_catalogue_acls(admin, bootstrap) > 10
    assert apply_catalogue_acls(admin, bootstrap) > 10, "applying again changes nothing and does not fail"

    settings = admin.model_copy(update=_as(secure_kafka, "hub"))
    hub_client = secure_kafka.client_config("hub")
    async with running_hub(settings, bootstrap) as hub:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **hub_client)  # type: ignore[arg-type]
        await producer.start()
        try:
            await open_cases(hub.store, producer, settings, ["SEC-1"])
            event_id = await send_event(producer, settings, decision_naming_the_trust("SEC-1"))
        finally:
            await producer.stop()

        async def routed() -> bool:
            return bool(await hub.store.processed_ids([event_id]))

        await eventually(routed)

    prefix = settings.topic_prefix
    nhs = secure_kafka.client_config("nhs")
    own = [json.loads(r.value or b"") async for r in read_topic(bootstrap, f"{prefix}out.nhs.v1", client_config=nhs)]
    assert [e["causationid"] for e in own] == [event_id], "the NHS principal reads the copy meant for the NHS"

    for foreign in ("out.childrens-social-care.v1", "ehc.panel-outcomes.v1"):
        assert _fetch_error(bootstrap, nhs, f"{prefix}{foreign}", f"{prefix}nhs-reader") == "TOPIC_AUTHORIZATION_FAILED"
    assert _fetch_error(bootstrap, nhs, f"{prefix}out.nhs.v1", f"{prefix}nhs-reader") is None
    forger = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **nhs)  # type: ignore[arg-type]
    await forger.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await forger.send_and_wait(f"{prefix}ehc.panel-outcomes.v1", b"{}", key=b"SEC-1")
    finally:
        await forger.stop()
