"""Kubernetes manifests for a cluster run: a Strimzi Kafka in KRaft mode, one ``KafkaTopic`` per
catalogue entry, one ``KafkaUser`` per principal with the catalogue's ACLs, and the hub's
Deployments per role with their probes, resources, disruption budgets, network policy and
Prometheus scrape.

Generated from ``hub.topics.catalogue`` and ``hub.ops.acls.catalogue_acls`` by ``hub deploy
manifests``, so the manifests cannot drift from what the hub itself creates and allows; a test
regenerates them and fails on any difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hub.ops.acls import AclSpec, catalogue_acls
from hub.settings import Settings
from hub.topics import catalogue

CLUSTER = "ehc-kafka"
APP = "ehc-hub"
STRIMZI = "kafka.strimzi.io/v1beta2"
KAFKA_VERSION = "4.1.1"
HTTP_PORT = 8080
ROLES = {"route": 2, "dispatch": 2}  # role -> replicas
OPERATIONS = {
    "read": "Read",
    "write": "Write",
    "describe": "Describe",
    "create": "Create",
    "alter_configs": "AlterConfigs",
    "describe_configs": "DescribeConfigs",
    "idempotent_write": "IdempotentWrite",
    "all": "All",
}

Manifest = dict[str, Any]


def production_settings() -> Settings:
    """The settings the manifests describe: the defaults (not this shell's environment), with the
    catalogue held by a three-broker cluster."""
    return Settings.model_construct(topic_replication_factor=3, topic_partitions=12)


def kubernetes_manifests(settings: Settings, image: str) -> dict[str, list[Manifest]]:
    """Each file of ``deploy/kubernetes`` and the resources in it."""
    return {
        "kafka.yaml": kafka_cluster(settings.topic_replication_factor),
        "topics.yaml": kafka_topics(settings),
        "users.yaml": kafka_users(
            catalogue_acls(
                settings.topic_prefix, settings.group_id, settings.kafka_hub_principal, settings.kafka_agency_principals
            )
        ),
        "hub.yaml": hub_workloads(settings, image),
    }


def kafka_cluster(replicas: int) -> list[Manifest]:
    pool = {
        "apiVersion": STRIMZI,
        "kind": "KafkaNodePool",
        "metadata": {"name": "dual-role", "labels": {"strimzi.io/cluster": CLUSTER}},
        "spec": {
            "replicas": replicas,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [
                    {
                        "id": 0,
                        "type": "persistent-claim",
                        "size": "100Gi",
                        "deleteClaim": False,
                        "kraftMetadata": "shared",
                    }
                ],
            },
            "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
        },
    }
    min_isr = 2 if replicas >= 3 else 1
    kafka = {
        "apiVersion": STRIMZI,
        "kind": "Kafka",
        "metadata": {
            "name": CLUSTER,
            "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"},
        },
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "listeners": [
                    {
                        "name": "tls",
                        "port": 9093,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                "authorization": {"type": "simple"},
                "config": {
                    "default.replication.factor": replicas,
                    "min.insync.replicas": min_isr,
                    "offsets.topic.replication.factor": replicas,
                    "transaction.state.log.replication.factor": replicas,
                    "transaction.state.log.min.isr": min_isr,
                    "auto.create.topics.enable": False,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [pool, kafka]


def kafka_topics(settings: Settings) -> list[Manifest]:
    """One KafkaTopic per catalogue entry, with the configuration ``hub topics apply`` would set."""
    replicas = settings.topic_replication_factor
    return [
        {
            "apiVersion": STRIMZI,
            "kind": "KafkaTopic",
            "metadata": {"name": f"{settings.topic_prefix}{spec.name}", "labels": {"strimzi.io/cluster": CLUSTER}},
            "spec": {
                "topicName": f"{settings.topic_prefix}{spec.name}",
                "partitions": spec.partitions or settings.topic_partitions,
                "replicas": replicas,
                "config": spec.config(replicas),
            },
        }
        for spec in catalogue(len(settings.retry_delays_seconds))
    ]


def kafka_users(acls: list[AclSpec]) -> list[Manifest]:
    """One KafkaUser per principal, authenticated by SCRAM-SHA-512, allowed only its ACLs."""
    by_user: dict[str, list[Manifest]] = {}
    for acl in acls:
        resource: Manifest = {"type": acl.resource}
        if acl.resource != "cluster":
            resource |= {"name": acl.name, "patternType": "prefix" if acl.pattern == "prefixed" else "literal"}
        rule = {"resource": resource, "operations": [OPERATIONS[acl.operation]], "host": "*"}
        by_user.setdefault(acl.principal.removeprefix("User:"), []).append(rule)
    return [
        {
            "apiVersion": STRIMZI,
            "kind": "KafkaUser",
            "metadata": {"name": user, "labels": {"strimzi.io/cluster": CLUSTER}},
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {"type": "simple", "acls": rules},
            },
        }
        for user, rules in by_user.items()
    ]


def hub_workloads(settings: Settings, image: str) -> list[Manifest]:
    labels = {"app.kubernetes.io/name": APP}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{APP}-config", "labels": labels},
        "data": {
            "KAFKA_BOOTSTRAP_SERVERS": f"{CLUSTER}-kafka-bootstrap:9093",
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "HUB_KAFKA_SASL_USERNAME": settings.kafka_hub_principal.removeprefix("User:"),
            "HUB_KAFKA_SSL_CAFILE": "/etc/kafka-ca/ca.crt",
            "HUB_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
            "HUB_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "HUB_TOPIC_PREFIX": settings.topic_prefix,
            "HUB_GROUP_ID": settings.group_id,
            "HUB_HTTP_HOST": "0.0.0.0",
            "HUB_HTTP_PORT": str(HTTP_PORT),
            "HUB_LOG_LEVEL": "INFO",
        },
    }
    out: list[Manifest] = [config]
    for role, replicas in ROLES.items():
        out += [_deployment(role, replicas, image, labels), _disruption_budget(role, labels)]
    out += [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": APP, "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        _network_policy(labels),
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": APP, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "endpoints": [
                    {
                        "port": "http",
                        "path": "/metrics",
                        "interval": "30s",
                        # /metrics needs a token like every route: an ops-monitor client's
                        "authorization": {"type": "Bearer", "credentials": {"name": f"{APP}-metrics", "key": "token"}},
                    }
                ],
            },
        },
    ]
    return out


def _deployment(role: str, replicas: int, image: str, labels: Mapping[str, str]) -> Manifest:
    selector = {**labels, "app.kubernetes.io/component": role}
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3}
    secret = {"secretKeyRef": {"name": "hub", "key": "password"}}  # written by Strimzi for KafkaUser hub
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{APP}-{role}", "labels": selector},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
                    "terminationGracePeriodSeconds": 45,
                    "containers": [
                        {
                            "name": "hub",
                            "image": image,
                            "args": ["run"],
                            "ports": [{"name": "http", "containerPort": HTTP_PORT}],
                            "envFrom": [
                                {"configMapRef": {"name": f"{APP}-config"}},
                                # the database URL, identity provider and signing secrets (see the README)
                                {"secretRef": {"name": f"{APP}-secrets"}},
                            ],
                            "env": [
                                {"name": "HUB_ROLES", "value": f'["{role}"]'},
                                {"name": "HUB_KAFKA_SASL_PASSWORD", "valueFrom": secret},
                            ],
                            "startupProbe": {**probe, "failureThreshold": 30},
                            "readinessProbe": probe,
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 10,
                                "failureThreshold": 6,
                            },
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"memory": "1Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "kafka-ca", "mountPath": "/etc/kafka-ca", "readOnly": True},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "kafka-ca", "secret": {"secretName": f"{CLUSTER}-cluster-ca-cert"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},  # CSV imports are spooled here
                    ],
                },
            },
        },
    }


def _disruption_budget(role: str, labels: Mapping[str, str]) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{APP}-{role}", "labels": labels},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {**labels, "app.kubernetes.io/component": role}}},
    }


def _network_policy(labels: Mapping[str, str]) -> Manifest:
    """In: HTTP from the ingress controller, and the Prometheus scrape. Out: the brokers, the
    database, DNS and HTTPS (the identity provider and agencies' systems)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": APP, "labels": labels},
        "spec": {
            "podSelector": {"matchLabels": labels},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
                        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
                    ],
                    "ports": [{"port": HTTP_PORT, "protocol": "TCP"}],
                }
            ],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": CLUSTER}}}],
                    "ports": [{"port": 9093, "protocol": "TCP"}],
                },
                {"ports": [{"port": 5432, "protocol": "TCP"}]},
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {"ports": [{"port": 443, "protocol": "TCP"}]},
            ],
        },
    }


def render(documents: list[Manifest]) -> str:
    header = "# Generated by `hub deploy manifests` from the topic catalogue and ACLs; do not edit by hand.\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def write_manifests(out: Path, files: dict[str, list[Manifest]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, documents in files.items():
        path = out / name
        path.write_text(render(documents))
        written.append(path)
    return written


def differences(out: Path, files: dict[str, list[Manifest]]) -> list[str]:
    """Files under ``out`` that differ from what would be generated now."""
    stale = []
    for name, documents in files.items():
        path = out / name
        if not path.exists() or path.read_text() != render(documents):
            stale.append(name)
    return stale
