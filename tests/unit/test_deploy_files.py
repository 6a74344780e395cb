"""The deployment files, checked statically (no container engine or Kubernetes runs here): the
manifests are what the catalogue generates, the image is built the way the README says, and the
Compose file wires three brokers, PostgreSQL, the identity provider and two hubs together."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hub.ops.acls import catalogue_acls
from hub.ops.manifests import differences, kubernetes_manifests, production_settings
from hub.settings import Settings
from hub.topics import catalogue, outbound_topic

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE = "ghcr.io/ehc-hub/hub:latest"


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()) if d]


def test_the_manifests_are_what_the_catalogue_generates() -> None:
    assert differences(DEPLOY / "kubernetes", kubernetes_manifests(production_settings(), IMAGE)) == [], (
        "run `hub deploy manifests` and commit the result"
    )


def test_every_catalogue_topic_is_a_kafka_topic_with_its_configuration() -> None:
    settings = production_settings()
    topics = {d["spec"]["topicName"]: d for d in documents("topics.yaml")}
    specs = catalogue(len(settings.retry_delays_seconds))
    assert set(topics) == {s.name for s in specs}
    for spec in specs:
        resource = topics[spec.name]
        assert resource["kind"] == "KafkaTopic" and resource["metadata"]["labels"]["strimzi.io/cluster"] == "ehc-kafka"
        assert resource["spec"]["replicas"] == 3
        assert resource["spec"]["config"] == spec.config(3)
        assert resource["spec"]["config"]["min.insync.replicas"] == "2"
    [kafka] = [d for d in documents("kafka.yaml") if d["kind"] == "Kafka"]
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False, "only the catalogue makes topics"
    assert kafka["spec"]["kafka"]["listeners"][0]["authentication"]["type"] == "scram-sha-512"


def test_each_principal_is_a_kafka_user_allowed_only_its_acls() -> None:
    settings = production_settings()
    users = {d["metadata"]["name"]: d for d in documents("users.yaml")}
    acls = catalogue_acls(
        settings.topic_prefix, settings.group_id, settings.kafka_hub_principal, settings.kafka_agency_principals
    )
    assert set(users) == {a.principal.removeprefix("User:") for a in acls}
    nhs = users["nhs"]["spec"]["authorization"]["acls"]
    topics = {(r["resource"]["name"], op) for r in nhs if r["resource"]["type"] == "topic" for op in r["operations"]}
    assert topics == {(outbound_topic("nhs"), "Read"), (outbound_topic("nhs"), "Describe")}, "its own topic only"
    assert sum(len(u["spec"]["authorization"]["acls"]) for u in users.values()) == len(acls)


def test_the_hub_runs_per_role_with_probes_resources_and_a_disruption_budget() -> None:
    hub = documents("hub.yaml")
    deployments = [d for d in hub if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"ehc-hub-route", "ehc-hub-dispatch"}
    budgets = {d["metadata"]["name"] for d in hub if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {d["metadata"]["name"] for d in deployments}
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        roles = {e["name"]: e.get("value") for e in container["env"]}["HUB_ROLES"]
        assert roles == f'["{deployment["metadata"]["labels"]["app.kubernetes.io/component"]}"]'
    [config] = [d for d in hub if d["kind"] == "ConfigMap"]
    fields = set(Settings.model_fields)
    for name in config["data"]:
        if name.startswith("HUB_"):
            assert name.removeprefix("HUB_").lower() in fields, f"{name} is not a setting"
    assert {d["kind"] for d in hub} >= {"Service", "NetworkPolicy", "ServiceMonitor"}


def test_the_image_is_multi_stage_non_root_and_checks_readiness() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert len(stages) == 2 and all(s.startswith("python:3.11-slim") for s in stages)
    final = dockerfile.split("\nFROM ")[-1]
    assert re.search(r"^USER 10001$", final, flags=re.M), "runs as a non-root user"
    assert "HEALTHCHECK" in final and "/readyz" in final
    assert "apt-get" not in final and "gcc" not in final, "no build tools in the final stage"
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.M):
        assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" and {"!hub/", "!adapters/", "!schemas/"} <= set(ignored)


def test_compose_runs_three_brokers_postgres_the_identity_provider_and_two_hubs_behind_one_port() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    brokers = [services[f"kafka-{n}"]["environment"] for n in (1, 2, 3)]
    assert sorted(b["KAFKA_NODE_ID"] for b in brokers) == [1, 2, 3]
    voters = brokers[0]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 3 and all(b["KAFKA_MIN_INSYNC_REPLICAS"] == 2 for b in brokers)
    hubs = [services["hub-1"], services["hub-2"]]
    for hub in hubs:
        env = hub["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"].count("kafka-") == 3 and env["HUB_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["HUB_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["HUB_AUTH__ISSUER"].endswith("/realms/ehc-hub")
    assert services["proxy"]["ports"] == ["8080:8080"]
    upstream = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "server hub-1:8080" in upstream and "server hub-2:8080" in upstream
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
