"""Where the tests get their Kafka broker: one per session, shared, each test isolating itself.

Order: KAFKA_BOOTSTRAP_SERVERS if set; else testcontainers' Kafka module when a Docker engine
answers; else the project's local JVM broker (the same one `hub kafka up` starts).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    from hub.devtools import kafka_local

    state = Path(tempfile.mkdtemp(prefix="hub-kafka-"))
    info = kafka_local.up(state_dir=state)
    try:
        yield info.bootstrap_servers
    finally:
        kafka_local.down(state)
        shutil.rmtree(state, ignore_errors=True)
