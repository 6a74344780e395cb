"""The topic catalogue on a real broker, and the local broker's own behaviour."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.devtools import kafka_local
from hub.ops.kafka_io import read_topic
from hub.topics import catalogue
from hub.wiring import ensure_topics
from tests.helpers import isolated_settings

pytestmark = pytest.mark.kafka


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    """A topic's configuration, asked until the answering broker has caught up with a new topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(50):
            [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            resources = response.to_object()["resources"]
            config = {c["config_names"]: c["config_value"] for c in resources[0]["config_entries"]}
            if "min.insync.replicas" in config:
                return config
            await asyncio.sleep(0.2)
        raise AssertionError(f"no configuration for {topic}: {resources}")
    finally:
        await admin.close()


async def test_topics_apply_is_idempotent_and_sets_policies(kafka: str, sqlite_url: str) -> None:
    settings = isolated_settings(sqlite_url)
    created, existing = await ensure_topics(settings, kafka)
    expected = len(catalogue(len(settings.retry_delays_seconds)))
    assert (len(created), len(existing)) == (expected, 0)
    created, existing = await ensure_topics(settings, kafka)
    assert (len(created), len(existing)) == (0, expected)
    dlq = await _topic_config(kafka, settings.topic_prefix + "hub.ops.dlq.v1")
    assert dlq["max.message.bytes"] == str(10 * 1024 * 1024), "a dead-lettered report fits"
    canonical = await _topic_config(kafka, settings.topic_prefix + "ehc.assessment-requests.v1")
    assert canonical["cleanup.policy"] == "delete"
    assert canonical["retention.ms"] == "-1"
    retry = await _topic_config(kafka, settings.topic_prefix + "hub.retry-1.v1")
    assert retry["retention.ms"] == str(7 * 24 * 3600 * 1000)


def test_missing_java_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(kafka_local.LocalKafkaError, match="openjdk-17-jre-headless"):
        kafka_local.require_tools()


def test_cached_jars_are_not_downloaded_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    libs = tmp_path / f"kafka-{kafka_local.KAFKA_VERSION}" / "libs"
    libs.mkdir(parents=True)
    (libs / ".complete").write_text(kafka_local.jar_set())
    monkeypatch.setenv("PATH", str(tmp_path))  # neither mvn nor java can run now
    assert kafka_local.ensure_jars(tmp_path) == libs


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="uses the local JVM broker itself")
async def test_three_node_cluster_survives_losing_one_broker(tmp_path: Path) -> None:
    info = await asyncio.to_thread(kafka_local.up, 3, tmp_path / "cluster", None, 120.0, 384)
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=info.bootstrap_servers)
        await admin.start()
        try:
            assert len((await admin.describe_cluster())["brokers"]) == 3
        finally:
            await admin.close()
        settings = isolated_settings("sqlite+aiosqlite://", topic_replication_factor=3)
        await ensure_topics(settings, info.bootstrap_servers)
        topic = settings.topic_prefix + "ehc.assessment-requests.v1"
        assert (await _topic_config(info.bootstrap_servers, topic))["min.insync.replicas"] == "2"
        producer = AIOKafkaProducer(bootstrap_servers=info.bootstrap_servers, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"before", key=b"k")
            await asyncio.to_thread(kafka_local.stop_node, info.nodes[2], True)
            meta = await asyncio.wait_for(producer.send_and_wait(topic, b"after", key=b"k"), 60)
            assert meta.offset >= 1, "acks=all still succeeds with 2 of 3 replicas in sync"
        finally:
            await producer.stop()
    finally:
        await asyncio.to_thread(kafka_local.down, tmp_path / "cluster")


@pytest.mark.skipif(bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="uses the local JVM broker itself")
async def test_the_local_broker_keeps_its_topics_and_records_across_down_and_up(tmp_path: Path) -> None:
    state = tmp_path / "kept"
    first = await asyncio.to_thread(kafka_local.up, 1, state)
    try:
        settings = isolated_settings("sqlite+aiosqlite://")
        await ensure_topics(settings, first.bootstrap_servers)
        topic = settings.topic_prefix + "ehc.assessment-requests.v1"
        producer = AIOKafkaProducer(bootstrap_servers=first.bootstrap_servers, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"kept", key=b"k")
        finally:
            await producer.stop()
        await asyncio.to_thread(kafka_local.down, state)
        again = await asyncio.to_thread(kafka_local.up, 1, state)
        assert again.cluster_id == first.cluster_id
        assert again.bootstrap_servers == first.bootstrap_servers, "the same ports, still free"
        kept = [r.value async for r in read_topic(again.bootstrap_servers, topic)]
        assert kept == [b"kept"]
        with pytest.raises(kafka_local.LocalKafkaError, match="hub kafka reset"):
            await asyncio.to_thread(kafka_local.down, state)
            await asyncio.to_thread(kafka_local.up, 1, state, None, 90.0, 512, True)
    finally:
        assert await asyncio.to_thread(kafka_local.reset, state)
    assert not state.exists()
