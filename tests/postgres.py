"""Fresh PostgreSQL databases on a server reached through an admin URL: one per test in the
suite's PostgreSQL lane, one per benchmark scenario that compares it with SQLite."""

from __future__ import annotations

import uuid

import asyncpg


async def fresh_database(admin_url: str, prefix: str) -> str:
    """Make an empty database; returns its SQLAlchemy URL for the hub."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_database(admin_url: str, url: str) -> None:
    """Drop a database ``fresh_database`` made, whoever is still connected to it."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()
