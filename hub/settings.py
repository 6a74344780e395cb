"""Configuration from the environment (prefix ``HUB_``), with safe local defaults."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StatutoryRules(BaseModel):
    """Time limits and thresholds from SEND Regs 2014 and CFA 2014 (domain.md 1.3).

    Every number is configuration with the statutory value as its default, because several are
    marked unconfirmed in the brief and councils apply local practice on top (set, for example,
    ``HUB_RULES__WARNING_DAYS=10``).
    """

    decision_weeks: int = Field(default=6, description="reg 5(1): decision whether to assess")
    advice_weeks: int = Field(default=6, description="reg 8(1): advice, from the adviser's receipt of the request")
    not_issue_weeks: int = Field(default=16, description="reg 10(1): notice of a decision not to issue")
    final_plan_weeks: int = Field(default=20, description="reg 13(2): final EHC plan")
    annual_review_months: int = Field(default=12, description="s44(1) CFA: review within every 12 months")
    closure_min_weeks: int = Field(default=4, description="regs 5(4)(a), 10(4)(a)/(b): closure of at least 4 weeks")
    closure_window_offset_days: int = Field(
        default=7, description="the closure window runs from 1 week before closure to 1 week before reopening"
    )
    absence_min_weeks: int = Field(default=4, description="regs 5(4), 8(2)(b), 10(4)(d): absence from the area")
    warning_days: int = Field(default=14, description="alert this many days before a deadline")
    pfa_from_year_group: int = Field(default=9, description="reg 6(1)(g): preparing-for-adulthood advice from Year 9")


class TransitionRules(BaseModel):
    """When to refer a young person to adult social care, and when an earlier assessment is current.

    Councils differ: some plan from Year 9, some refer at 17 years 9 months (the default). The
    Act sets no expiry for a transition assessment; it asks the adult service to have regard to
    when it was done and whether circumstances changed, so the currency limits are local policy.
    """

    lead_months: int = Field(default=3, description="refer this many months before the 18th birthday")
    reuse_max_age_months: int = Field(default=12, description="younger than this and unchanged: recommend reuse")
    reassess_after_months: int = Field(default=24, description="older than this: recommend a new assessment")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    rules: StatutoryRules = Field(default_factory=StatutoryRules)
    transitions: TransitionRules = Field(default_factory=TransitionRules)
    adult_social_care_endpoints: dict[str, str] = Field(
        default_factory=dict, description='LA code -> URL of its adult social care system, e.g. {"202": "https://..."}'
    )

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
    clock_sweep_seconds: float = Field(default=300.0, description="how often statutory clocks are checked")
    today: date | None = Field(default=None, description="pin today's date (replays, demonstrations)")
    webhooks: dict[str, str] = Field(
        default_factory=dict,
        description='organisation code -> URL receiving its advice requests, e.g. {"100001": "https://..."}',
    )
    webhook_retry_delays_seconds: list[float] = Field(default=[1, 2, 5, 10, 30, 60])
    fhir_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="ODS code -> FHIR base URL of a provider that takes pushed requests ($process-message)",
    )
    fhir_max_body_bytes: int = Field(default=5 * 1024 * 1024, description="larger FHIR bodies are refused with 413")
    dashboard_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="bearer token -> role (viewer, operator, admin); without a token a visitor is a viewer",
    )
    public_base_url: str | None = Field(
        default=None, description="how agencies reach this hub (callback URLs); default http://HOST:PORT"
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    source_uri: str = "/ehc-hub"
    log_format: str = Field(default="auto", description="auto (JSON unless a terminal), json or console")
    log_level: str = "INFO"


def public_url(settings: Settings) -> str:
    return settings.public_base_url or f"http://{settings.http_host}:{settings.http_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
