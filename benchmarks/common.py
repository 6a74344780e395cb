"""What every scenario shares: a broker, isolated settings, producing fast, watching the store,
running `hub run` as its own process, and reading a process's peak memory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from hub.logging import configure_logging
from hub.ops.kafka_io import partitions_of
from hub.settings import Settings
from schemas.envelope import encode, envelope_for
from schemas.events import AssessmentRequested, Event, PanelOutcomeRecorded
from tests.integration.hub_process import HubProcess
from tests.postgres import fresh_database

SOURCE = "/bench"


def quiet_logging() -> None:
    """Warnings only: per-event log lines are not what is measured, nor are the Kafka client's
    notices about consumer-group rebalances, which the scenarios cause on purpose."""
    configure_logging("json", "WARNING")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


@dataclass
class Figure:
    """One line of the results table: the hub's figure, the baseline measured in the same run, the target."""

    scenario: str
    measure: str
    hub: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    target: str | None = None
    met: bool | None = None
    peak_rss_mib: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return round(self.hub / self.baseline, 3) if self.baseline else None


async def bearer(client_id: str) -> dict[str, str]:
    """The Authorization header of a development-realm client, fetched as that system would."""
    from hub.auth.client_credentials import TokenSource
    from hub.devtools.keycloak_local import dev_credentials

    issuer = Settings().auth.issuer
    if issuer is None:
        raise RuntimeError("no identity provider: set HUB_AUTH__ISSUER or run the benchmarks through their command")
    return {"Authorization": f"Bearer {await TokenSource(dev_credentials(client_id, issuer)).access_token()}"}


@contextmanager
def identity_provider() -> Iterator[str]:
    """HUB_AUTH__ISSUER if set, else the running local Keycloak, else one started for the run.

    The hub processes the scenarios start inherit the issuer and the development registry."""
    from hub.devtools import keycloak_local

    if os.environ.get("HUB_AUTH__ISSUER"):
        yield os.environ["HUB_AUTH__ISSUER"]
        return
    running = keycloak_local.status()
    info = running or keycloak_local.up()
    os.environ["HUB_AUTH__ISSUER"] = info.issuer
    os.environ.setdefault("HUB_AUTH__CLIENTS_FILE", str(keycloak_local.CLIENTS_FILE))
    try:
        yield info.issuer
    finally:
        if running is None:
            keycloak_local.down()


def bench_settings(workdir: Path, **overrides: Any) -> Settings:
    """Settings isolated by a fresh topic prefix and store, with the clock sweep off unless asked for."""
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    values: dict[str, Any] = {
        "topic_prefix": prefix,
        "group_id": f"{prefix}hub",
        "database_url": f"sqlite+aiosqlite:///{workdir / (prefix + 'db')}",
        "retry_delays_seconds": [1.0],
        "clock_sweep_seconds": 0,
        "topic_partitions": 4,
        "log_level": "WARNING",
        "privacy": {"master_key_file": str(workdir / "master.key")},
    }
    values.update(overrides)
    return Settings(**values)


def hub_processes(
    settings: Settings, bootstrap: str, workdir: Path, name: str, roles: Sequence[Sequence[str]] = ()
) -> list[HubProcess]:
    """One `hub run` with the default roles, or, to split a scenario, one per entry of ``roles``
    (``HUB_ROLES``), each logging to a file of its own in ``workdir``."""
    if not roles:
        return [HubProcess(settings, bootstrap, workdir / f"{name}-hub.log")]
    processes = []
    for these in roles:
        process = HubProcess(settings, bootstrap, workdir / f"{name}-{'-'.join(these)}.log")
        process.env["HUB_ROLES"] = json.dumps(list(these))
        processes.append(process)
    return processes


async def on_postgres(settings: Settings, admin_url: str) -> Settings:
    """The same settings on a fresh PostgreSQL database, made through ``admin_url`` as the test
    suite's PostgreSQL lane makes its own (``scripts/postgres-throwaway.sh`` starts a server)."""
    return settings.model_copy(update={"database_url": await fresh_database(admin_url, "bench")})


async def store_rows(settings: Settings, table: str) -> int:
    """Rows in a store table on either database, read on a connection of its own."""
    if settings.database_url.startswith("sqlite"):
        return store_count(settings, table)
    import asyncpg

    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", "", 1))
    try:
        return int(await conn.fetchval(f"select count(*) from {table}"))
    except asyncpg.UndefinedTableError:  # schema not created yet
        return 0
    finally:
        await conn.close()


def sqlite_path(settings: Settings) -> str:
    return settings.database_url.split(":///", 1)[1]


def store_count(settings: Settings, table: str, where: str = "") -> int:
    """Rows in a store table, read with the standard library so watching costs the hub nothing."""
    path = sqlite_path(settings)
    if not Path(path).exists():
        return 0
    with sqlite3.connect(path, timeout=30) as db:
        try:
            return int(db.execute(f"select count(*) from {table} {where}").fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0


def assessment_requests(case_ids: list[str]) -> list[AssessmentRequested]:
    """One request per case: what opens the cases the other events are judged against."""
    return [
        AssessmentRequested(
            case_id=c,
            la_code="202",
            person={"la_person_id": c, "la_code": "202"},
            requested_by="parent",
            received_date="2026-01-05",
            school={"agency": "school", "code": "100001"},
        )
        for c in case_ids
    ]


def panel_outcomes(case_ids: list[str]) -> list[PanelOutcomeRecorded]:
    """One panel outcome per case, shared with three agencies: four records out (three copies, one audit)."""
    return [
        PanelOutcomeRecorded(
            case_id=c, la_code="202", panel_date="2026-03-02", outcome="issue-plan", health_summary="SALT"
        )
        for c in case_ids
    ]


def encoded(events: Iterable[Event]) -> list[tuple[str, bytes, bytes]]:
    """(logical topic, key, value) for each event, encoded as the senders would."""
    return [(e.topic, e.key().encode(), encode(envelope_for(e, source=SOURCE))) for e in events]


async def sealed(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> list[tuple[str, bytes, bytes]]:
    """The records as the hub's ingress publishes them where personal data is sealed: with their
    data keys made in the store the hub under test uses."""
    from hub.privacy.service import Privacy
    from hub.store import Store

    store = Store(settings.database_url)
    await store.create_schema()
    try:
        privacy = Privacy.configured(settings.privacy, store.db)
        if privacy is None:
            return records
        docs = await privacy.seal([json.loads(value) for _, _, value in records])
        return [(t, k, json.dumps(d).encode()) for (t, k, _), d in zip(records, docs, strict=True)]
    finally:
        await store.close()


async def produce(bootstrap: str, prefix: str, records: Iterable[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1024 * 1024, max_request_size=16 << 20
    )
    await producer.start()
    try:
        pending = []
        for topic, key, value in records:
            pending.append(await producer.send(prefix + topic, value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def wait_until(check: Callable[[], bool | Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done within {timeout:.0f}s")
        await asyncio.sleep(0.1)


async def rate_of_growth(count: Callable[[], int], start: int, target: int, timeout: float) -> float:
    """Seconds from the first row past ``start`` to ``target`` rows: start-up is not what is measured."""
    first: float | None = None
    deadline = time.monotonic() + timeout
    while True:
        n = await asyncio.to_thread(count)
        now = time.monotonic()
        if first is None and n > start:
            first = now
        if n >= target:
            return now - (first or now)
        if now > deadline:
            raise TimeoutError(f"{n - start} of {target - start} processed within {timeout:.0f}s")
        await asyncio.sleep(0.05)


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    tps = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def own_peak_rss_mib() -> float:
    return peak_rss_mib(os.getpid())


def rss_mib(pid: int) -> float:
    """A live process's resident set now (VmRSS), in MiB."""
    return _status_mib(pid, "VmRSS:")


def peak_rss_mib(pid: int) -> float:
    """A live process's peak resident set (VmHWM), in MiB. Not getrusage's ru_maxrss: Linux carries
    that across fork and exec, so a child would report its parent's peak if that was higher."""
    return _status_mib(pid, "VmHWM:")


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} for process {pid}")
