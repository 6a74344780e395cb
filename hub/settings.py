"""Configuration from the environment (prefix ``HUB_``), with safe local defaults."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="an existing cluster; when unset, `hub run` starts the local broker",
    )
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    topic_replication_factor: int = Field(default=1, description="3 in production clusters")
    topic_partitions: int = 3
    topic_prefix: str = Field(default="", description="prepended to every topic name, to isolate tenants or tests")
    group_id: str = "ehc-hub"

    database_url: str = Field(
        default="sqlite+aiosqlite:///./hub.db",
        description="SQLAlchemy async URL; postgresql+asyncpg://... in production",
    )

    retry_delays_seconds: list[float] = Field(
        default=[1.0, 10.0, 60.0],
        description="one retry tier per delay; after the last, the record is dead-lettered",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    source_uri: str = "/ehc-hub"
    log_format: str = Field(default="auto", description="auto (JSON unless a terminal), json or console")
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()
