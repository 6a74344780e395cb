"""The topic catalogue, declared once in code and applied idempotently by ``hub topics apply``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.common import Agency
from schemas.events import ALL_EVENTS

FOREVER = "-1"
TOPIC_ALREADY_EXISTS = 36
WEEK_MS = str(7 * 24 * 3600 * 1000)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    purpose: str
    partitions: int | None = None  # None: the cluster setting from Settings.topic_partitions
    compacted: bool = False
    retention_ms: str = FOREVER
    extra: dict[str, str] = field(default_factory=dict)

    def config(self, replication_factor: int) -> dict[str, str]:
        cfg = {
            "cleanup.policy": "compact" if self.compacted else "delete",
            "retention.ms": self.retention_ms,
            "min.insync.replicas": "2" if replication_factor >= 3 else "1",
        }
        cfg.update(self.extra)
        return cfg


def outbound_topic(agency: Agency | str) -> str:
    """Where the hub publishes what one kind of agency should receive; the adapter reads it."""
    return f"out.{Agency(agency).value}.v1"


DLQ_TOPIC = "hub.ops.dlq.v1"
LARGE_MESSAGE_TOPICS = ("ehc.advice-submissions.v1", "out.la-sen.v1", DLQ_TOPIC)
AUDIT_TOPIC = "hub.audit.v2"
ALERTS_TOPIC = "hub.alerts.v1"
OPS_AUDIT_TOPIC = "hub.ops-audit.v1"


def retry_topic(tier: int) -> str:
    return f"hub.retry-{tier}.v1"


def catalogue(retry_tiers: int) -> list[TopicSpec]:
    """Every topic the hub needs. Canonical event topics keep their history: they are the record."""
    specs: dict[str, TopicSpec] = {}
    for event in ALL_EVENTS:
        specs.setdefault(event.topic, TopicSpec(event.topic, f"canonical {event.event_type} events"))
    for agency in Agency:
        name = outbound_topic(agency)
        specs[name] = TopicSpec(name, f"minimised events addressed to {agency.value}")
    for tier in range(1, retry_tiers + 1):
        name = retry_topic(tier)
        specs[name] = TopicSpec(name, f"retry tier {tier}", retention_ms=WEEK_MS)
    specs[DLQ_TOPIC] = TopicSpec(DLQ_TOPIC, "dead letters, unchanged, with failure context in headers")
    specs[OPS_AUDIT_TOPIC] = TopicSpec(OPS_AUDIT_TOPIC, "operator actions such as redrives")
    for name, spec in specs.items():  # advice may carry a report: allow records up to 10 MiB on its path
        if name in LARGE_MESSAGE_TOPICS or name.startswith("hub.retry-"):
            specs[name] = replace(spec, extra={**spec.extra, "max.message.bytes": str(10 * 1024 * 1024)})
    return list(specs.values())


async def apply_topics(
    bootstrap_servers: str,
    specs: list[TopicSpec],
    *,
    prefix: str = "",
    partitions: int = 3,
    replication_factor: int = 1,
    admin_config: dict[str, object] | None = None,
) -> tuple[list[str], list[str]]:
    """Create missing topics and bring configs of existing ones in line. Returns (created, existing)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **(admin_config or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=f"{prefix}{s.name}",
                num_partitions=s.partitions or partitions,
                replication_factor=replication_factor,
                topic_configs=s.config(replication_factor),
            )
            for s in specs
        ]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            problems = [
                f"{name}: error {code} {message or ''}".strip()
                for name, code, *rest in response.topic_errors
                for message in [rest[0] if rest else None]
                if code not in (0, TOPIC_ALREADY_EXISTS)  # another instance may have raced us
            ]
            if problems:
                raise RuntimeError("could not create topics: " + "; ".join(problems))
        present = [t for t in wanted if t.name in existing]
        if present:
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, t.name, configs=t.topic_configs) for t in present]
            )
        return [t.name for t in missing], [t.name for t in present]
    finally:
        await admin.close()
