from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.kafka_broker import kafka_bootstrap


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    with kafka_bootstrap() as bootstrap:
        yield bootstrap


def _postgres_admin_url() -> str | None:
    return os.environ.get("HUB_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test, on each backend the store supports."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        return
    admin = _postgres_admin_url()
    if not admin:
        pytest.skip("HUB_TEST_POSTGRES_URL is not set (the README's test command sets it)")
    from tests.postgres import drop_database, fresh_database

    url = await fresh_database(admin, "hub")
    yield url
    await drop_database(admin, url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
