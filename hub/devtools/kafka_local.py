"""A real Apache Kafka 4 broker (KRaft) started from Maven Central jars, for machines without Docker.

The broker jars are resolved once through ``deploy/kafka/pom.xml`` into a per-version cache
outside the repository, so a second start downloads nothing. Each cluster lives in a state
directory holding its configuration, data, logs and a ``cluster.json`` that lets ``status`` and
``down`` find the processes again from another shell.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
LOG4J2_CONFIG = """\
Configuration:
  status: warn
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: warn
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: info
"""


class LocalKafkaError(RuntimeError):
    """Raised when the local broker cannot be prepared, started or reached."""


@dataclass
class NodeInfo:
    node_id: int
    port: int
    controller_port: int
    pid: int


SCRAM = "SCRAM-SHA-512"
SUPER_USER = "admin"
# The principals a secure local cluster is made with: the super user that applies ACLs, the hub, and
# one per agency that reads its own outbound topic directly. Development passwords, local only.
LOCAL_PRINCIPALS = (
    "admin",
    "hub",
    "la-sen",
    "school",
    "educational-psychology",
    "nhs",
    "childrens-social-care",
    "adult-social-care",
)


def local_password(user: str) -> str:
    return f"{user}-local-kafka-secret"


@dataclass
class ClusterInfo:
    bootstrap_servers: str
    cluster_id: str
    nodes: list[NodeInfo]
    secure: bool = False

    @classmethod
    def load(cls, state_dir: Path) -> ClusterInfo | None:
        path = state_dir / "cluster.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        nodes = [NodeInfo(**n) for n in raw["nodes"]]
        return cls(raw["bootstrap_servers"], raw["cluster_id"], nodes, raw.get("secure", False))

    def client_config(self, user: str = SUPER_USER) -> dict[str, Any]:
        """aiokafka settings for connecting as ``user`` (nothing for a plaintext cluster)."""
        if not self.secure:
            return {}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM,
            "sasl_plain_username": user,
            "sasl_plain_password": local_password(user),
        }

    def save(self, state_dir: Path) -> None:
        (state_dir / "cluster.json").write_text(json.dumps(asdict(self), indent=2))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ehc-hub"


def default_state_dir() -> Path:
    return default_cache_dir() / "kafka-state"


def require_tools() -> tuple[str, str]:
    """Find java (17+) and mvn, or say exactly what to install."""
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            "Java 17 or newer is required to run the local Kafka broker. "
            "Install it with: apt-get install openjdk-17-jre-headless (Debian/Ubuntu), "
            "or point KAFKA_BOOTSTRAP_SERVERS at an existing cluster."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = _java_major(out)
    if major is not None and major < 17:
        raise LocalKafkaError(
            f"Java {major} found at {java}; Kafka 4 needs Java 17 or newer (openjdk-17-jre-headless)."
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven is required to fetch the Kafka broker jars from Maven Central. "
            "Install it with: apt-get install maven (Debian/Ubuntu)."
        )
    return java, mvn


def _java_major(version_output: str) -> int | None:
    for token in version_output.split('"')[1:2]:
        head = token.split(".")[0]
        if head == "1":
            return int(token.split(".")[1])
        if head.isdigit():
            return int(head)
    return None


def ensure_jars(cache_dir: Path | None = None, version: str = KAFKA_VERSION) -> Path:
    """Resolve the broker jars into the cache, once per version and dependency list."""
    libs = (cache_dir or default_cache_dir()) / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists() and marker.read_text() == jar_set(version):
        return libs
    _, mvn = require_tools()
    if libs.exists():  # resolved from an older dependency list: start again rather than mix jars
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-Dkafka.version={version}",
        f"-DoutputDirectory={libs}",
        "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise LocalKafkaError(f"Maven could not resolve the Kafka {version} jars:\n{result.stdout}\n{result.stderr}")
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise LocalKafkaError(f"Maven finished but no broker jar is in {libs}")
    marker.write_text(jar_set(version))
    return libs


def jar_set(version: str = KAFKA_VERSION) -> str:
    """What a complete cache holds: this Kafka version, resolved from this dependency list."""
    return f"{version} {hashlib.sha256(POM.read_bytes()).hexdigest()[:16]}"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports. The sockets are held until all are chosen: one released before
    the next is asked for may be handed out again, and a cluster whose listeners collide loses a node."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _listener_properties(port: int, cport: int, secure: bool) -> list[str]:
    if not secure:
        return [
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{SUPER_USER}" password="{local_password(SUPER_USER)}";'
    )
    return [
        f"listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name=SASL_PLAINTEXT",
        f"sasl.enabled.mechanisms={SCRAM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM}",
        f"listener.name.sasl_plaintext.{SCRAM.lower()}.sasl.jaas.config={jaas}",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        # The controller listener stays on loopback without SASL; its peers are the brokers themselves.
        f"super.users=User:{SUPER_USER};User:ANONYMOUS",
    ]


def _node_properties(
    node_id: int, port: int, cport: int, voters: str, data: Path, nodes: int, secure: bool = False
) -> str:
    rf = 3 if nodes >= 3 else 1
    isr = 2 if nodes >= 3 else 1
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"controller.quorum.voters={voters}",
            *_listener_properties(port, cport, secure),
            "controller.listener.names=CONTROLLER",
            f"log.dirs={data}",
            "num.partitions=3",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={isr}",
            f"offsets.topic.replication.factor={rf}",
            "offsets.topic.num.partitions=10",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={isr}",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={isr}",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            # Failure tests kill brokers: notice a dead one within seconds, not the production half-minute.
            *(
                ["broker.session.timeout.ms=6000", "broker.heartbeat.interval.ms=1000", "replica.lag.time.max.ms=10000"]
                if nodes >= 3
                else []
            ),
            "",
        ]
    )


def pid_alive(pid: int) -> bool:
    """Whether a process runs: an exited child not yet reaped (a zombie) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return True


def status(state_dir: Path | None = None) -> ClusterInfo | None:
    """The running cluster in this state directory, or None when no node is alive."""
    info = ClusterInfo.load(state_dir or default_state_dir())
    if info is None or not any(pid_alive(n.pid) for n in info.nodes):
        return None
    return info


def up(
    nodes: int = 1,
    state_dir: Path | None = None,
    cache_dir: Path | None = None,
    timeout: float = 90.0,
    heap_mb: int = 512,
    secure: bool = False,
) -> ClusterInfo:
    """Start a local cluster (1 or 3 nodes) and return once a client can fetch metadata.

    A cluster this state directory already holds is started again with its data: the same cluster
    id, every topic and record kept, on the same ports where they are still free. Only ``reset``
    deletes data. ``secure`` starts it with SASL/SCRAM-SHA-512 users (``LOCAL_PRINCIPALS``) and
    KRaft's StandardAuthorizer denying whatever no ACL allows; ``hub topics apply --acls`` grants
    the rest."""
    if nodes not in (1, 3):
        raise LocalKafkaError("the local cluster runs 1 node, or 3 nodes for failure tests")
    state = state_dir or default_state_dir()
    running = status(state)
    if running is not None:
        return running
    java, _ = require_tools()
    libs = ensure_jars(cache_dir)
    kept = _kept_cluster(state, nodes, secure)
    if kept is None:
        cluster_id = _new_cluster(state)
        previous: list[tuple[int, int]] = []
    else:
        cluster_id, previous = kept.cluster_id, [(n.port, n.controller_port) for n in kept.nodes]
    ports = _ports(previous, nodes)
    voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
    classpath = f"{libs}/*"
    infos: list[NodeInfo] = []
    for i, (port, cport) in enumerate(ports):
        node_dir = state / f"node-{i + 1}"
        data = node_dir / "data"
        props = node_dir / "server.properties"
        data.mkdir(parents=True, exist_ok=True)
        props.write_text(_node_properties(i + 1, port, cport, voters, data, nodes, secure))
        if kept is None:
            _format(java, classpath, state, props, cluster_id, secure)
        log = open(node_dir / "broker.log", "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(
            [
                java,
                f"-Xms{min(256, heap_mb)}m",
                f"-Xmx{heap_mb}m",
                "-cp",
                classpath,
                f"-Dlog4j2.configurationFile={state / 'log4j2.yaml'}",
                "kafka.Kafka",
                str(props),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        infos.append(NodeInfo(i + 1, port, cport, proc.pid))
    info = ClusterInfo(",".join(f"127.0.0.1:{n.port}" for n in infos), cluster_id, infos, secure)
    info.save(state)
    try:
        wait_ready(info, timeout, state)
    except LocalKafkaError:
        down(state)
        raise
    return info


def reset(state_dir: Path | None = None) -> bool:
    """Stop the cluster and delete its data: every topic and record. True if there was any."""
    state = state_dir or default_state_dir()
    down(state)
    if not state.exists():
        return False
    shutil.rmtree(state)
    return True


def _kept_cluster(state: Path, nodes: int, secure: bool) -> ClusterInfo | None:
    """The stopped cluster this state directory holds, to start again; None if it holds none."""
    kept = ClusterInfo.load(state)
    formatted = kept is not None and all(
        (state / f"node-{n.node_id}" / "data" / "meta.properties").exists() for n in kept.nodes
    )
    if kept is None or not formatted:
        if state.exists():
            shutil.rmtree(state)  # a start that never finished formatting holds no data
        return None
    if len(kept.nodes) != nodes or kept.secure != secure:
        raise LocalKafkaError(
            f"{state} holds a {len(kept.nodes)}-node{' secure' if kept.secure else ''} cluster with its data; "
            "start it as it was, or delete it with `hub kafka reset`"
        )
    return kept


def _new_cluster(state: Path) -> str:
    state.mkdir(parents=True)
    (state / "log4j2.yaml").write_text(LOG4J2_CONFIG)
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]


def _ports(previous: list[tuple[int, int]], nodes: int) -> list[tuple[int, int]]:
    """The ports the nodes had, where each is still free; fresh ones otherwise."""
    if previous and all(_port_free(p) and _port_free(c) for p, c in previous):
        return previous
    chosen = free_ports(2 * nodes)
    return list(zip(chosen[::2], chosen[1::2], strict=True))


def _port_free(port: int) -> bool:
    """Whether the broker could listen on ``port`` again: as the JVM does, connections of the last
    run still in TIME_WAIT do not stand in the way."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _format(java: str, classpath: str, state: Path, props: Path, cluster_id: str, secure: bool) -> None:
    scram = [a for u in LOCAL_PRINCIPALS for a in ("--add-scram", f"{SCRAM}=[name={u},password={local_password(u)}]")]
    fmt = subprocess.run(
        [
            java,
            "-cp",
            classpath,
            f"-Dlog4j2.configurationFile={state / 'log4j2.yaml'}",
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",  # an id may begin with "-", which a separate argument would not survive
            "-c",
            str(props),
            *(scram if secure else []),
        ],
        capture_output=True,
        text=True,
    )
    if fmt.returncode != 0:
        raise LocalKafkaError(f"formatting KRaft storage failed: {fmt.stdout}{fmt.stderr}")


def wait_ready(info: ClusterInfo, timeout: float, state_dir: Path) -> None:
    """Ready means every node answers a metadata request and sees all brokers, not just an open port."""
    import logging

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        for n in info.nodes:
            if not pid_alive(n.pid):
                log = (state_dir / f"node-{n.node_id}" / "broker.log").read_text(errors="replace")[-3000:]
                raise LocalKafkaError(f"broker node {n.node_id} exited during start-up:\n{log}")
        try:
            if metadata_brokers(info.bootstrap_servers, info.client_config()) >= len(info.nodes):
                return
        except Exception as exc:
            last_error = repr(exc)
        time.sleep(0.5)
    raise LocalKafkaError(f"the local broker did not answer within {timeout:.0f}s ({last_error})")


def metadata_brokers(bootstrap_servers: str, client_config: dict[str, Any] | None = None) -> int:
    """How many brokers a client sees in a metadata response."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> int:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=5000, **(client_config or {})
        )
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            return len(cluster["brokers"])
        finally:
            await admin.close()

    return asyncio.run(probe())


def stop_node(node: NodeInfo, kill: bool = False, timeout: float = 30.0) -> None:
    """Stop one node: SIGTERM and wait for a clean shutdown, or SIGKILL for failure tests."""
    if not pid_alive(node.pid):
        return
    os.kill(node.pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(node.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(node.pid):
        os.kill(node.pid, signal.SIGKILL)


def down(state_dir: Path | None = None) -> bool:
    """Stop every node of the cluster; True if anything was running."""
    info = ClusterInfo.load(state_dir or default_state_dir())
    if info is None:
        return False
    alive = [n for n in info.nodes if pid_alive(n.pid)]
    # Signal every node before waiting: a KRaft quorum that loses members one at a time
    # makes the last controller wait for a quorum that will never come back.
    for node in alive:
        os.kill(node.pid, signal.SIGTERM)
    for node in alive:
        stop_node(node)
    return bool(alive)
