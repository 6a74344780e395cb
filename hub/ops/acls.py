"""Who may do what on the topics: the catalogue's access control lists, applied by
``hub topics apply --acls`` with an administrator's credentials.

The hub's principal owns every topic and consumer group under its prefix. Each agency that reads
its own outbound topic directly gets its own principal, allowed to read that one topic (with
consumer groups named after it) and nothing else, so a provider's credentials cannot read what
was meant for social care. aiokafka has no ACL API; confluent-kafka's admin client does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from hub.topics import outbound_topic

Resource = Literal["topic", "group", "cluster"]
Pattern = Literal["literal", "prefixed"]


@dataclass(frozen=True)
class AclSpec:
    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: str  # read, write, describe, create, alter_configs, describe_configs, idempotent_write, all


def catalogue_acls(prefix: str, group_id: str, hub_principal: str, agency_principals: dict[str, str]) -> list[AclSpec]:
    """The ACLs the hub and the agencies need, derived from the same names as the topic catalogue."""
    topics: tuple[str, Pattern] = (prefix, "prefixed") if prefix else ("*", "literal")
    acls = [
        AclSpec(hub_principal, "topic", topics[0], topics[1], "all"),
        AclSpec(hub_principal, "group", group_id, "prefixed", "all"),
        AclSpec(hub_principal, "cluster", "kafka-cluster", "literal", "describe"),
        AclSpec(hub_principal, "cluster", "kafka-cluster", "literal", "idempotent_write"),
    ]
    for agency, principal in sorted(agency_principals.items()):
        topic = f"{prefix}{outbound_topic(agency)}"
        acls += [
            AclSpec(principal, "topic", topic, "literal", "read"),
            AclSpec(principal, "topic", topic, "literal", "describe"),
            AclSpec(principal, "group", f"{prefix}{agency}", "prefixed", "read"),
        ]
    return acls


def librdkafka_config(
    bootstrap_servers: str, client_config: dict[str, Any], cafile: str | None = None
) -> dict[str, Any]:
    """The hub's aiokafka security settings in librdkafka's terms."""
    cfg: dict[str, Any] = {"bootstrap.servers": bootstrap_servers}
    if client_config.get("security_protocol"):
        cfg["security.protocol"] = client_config["security_protocol"]
    if client_config.get("sasl_mechanism"):
        cfg.update(
            {
                "sasl.mechanism": client_config["sasl_mechanism"],
                "sasl.username": client_config.get("sasl_plain_username") or "",
                "sasl.password": client_config.get("sasl_plain_password") or "",
            }
        )
    if cafile:
        cfg["ssl.ca.location"] = cafile
    return cfg


def apply_acls(
    bootstrap_servers: str, client_config: dict[str, Any], acls: list[AclSpec], cafile: str | None = None
) -> int:
    """Create every ACL (creating one that exists changes nothing); returns how many were applied."""
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient(librdkafka_config(bootstrap_servers, client_config, cafile))
    bindings = [
        AclBinding(
            ResourceType.BROKER if a.resource == "cluster" else ResourceType[a.resource.upper()],
            a.name,
            ResourcePatternType[a.pattern.upper()],
            a.principal,
            "*",
            AclOperation[a.operation.upper()],
            AclPermissionType.ALLOW,
        )
        for a in acls
    ]
    try:
        for future in admin.create_acls(bindings, request_timeout=30).values():
            future.result()
        # The controller has them now; a broker authorises with them once its metadata catches up.
        anything: Any = None  # the filter's wildcard, which the type stubs do not admit
        everything = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            anything,
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        deadline = time.monotonic() + 30
        while not set(bindings) <= set(admin.describe_acls(everything, request_timeout=10).result()):
            if time.monotonic() > deadline:
                raise TimeoutError("the brokers did not report the new ACLs within 30 s")
            time.sleep(0.2)
    finally:
        del admin  # librdkafka's handle closes when collected; no close() in this API
    return len(bindings)
