"""Configuration from the environment (prefix ``HUB_``), with safe local defaults."""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MONTH_DAY = r"^(0[1-9]|1[0-2])-[0-3][0-9]$"
ENGLAND_BANK_HOLIDAYS = [
    date.fromisoformat(d)
    for d in (
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
        "2027-01-01",
        "2027-03-26",
        "2027-03-29",
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",
        "2027-12-28",
    )
]


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
    cease_appeal_months: int = Field(
        default=2,
        description="a decision to cease takes effect once this long has passed after its notice (appeal time)",
    )
    representations_days: int = Field(
        default=15, description="reg 13(1): days from the draft plan's service for representations before the final"
    )
    due_day_is_on_time: bool = Field(
        default=True,
        description="a limit met on the day its weeks end is on time (140 days from Day 1 is within 20 weeks)",
    )
    under_five_review_months: int = Field(
        default=12, description="review a plan for a child under 5 this often (CoP 9.178 suggests 3 to 6 months)"
    )
    review_notice_weeks: int = Field(default=2, description="regs 20(3), 21(3): notice of a review meeting")
    review_circulation_weeks: int = Field(
        default=2, description="regs 20(4), 21(4): advice circulated this long before the meeting"
    )
    review_report_weeks: int = Field(default=2, description="regs 20(7), 21(7): the report after the meeting")
    review_decision_weeks: int = Field(default=4, description="reg 22(2): the LA's decision after the meeting")
    amended_plan_weeks: int = Field(
        default=8, description="reg 22(3): final amended plan after the proposed amendments"
    )
    amended_plan_weeks_from_meeting: int = Field(
        default=12, description="R (L) v Devon [2022]: the final amended plan within this long of the meeting"
    )
    phase_transfer_years: list[int] = Field(
        default=[0, 7, 12],
        description="curriculum years a phase starts in (Reception 0, Year 7, Year 12); add 3 where infant and junior "
        "schools are separate",
    )
    phase_transfer_deadline: str = Field(
        default="02-15",
        pattern=MONTH_DAY,
        description="reg 18(1)(b): school phases, before this day (MM-DD), so due the day before",
    )
    post_16_transfer_deadline: str = Field(
        default="03-31",
        pattern=MONTH_DAY,
        description="reg 18(1)(a): secondary to post-16, before this day (MM-DD), so due the day before",
    )
    post_16_move_months: int = Field(default=5, description="reg 18(2): a post-16 to post-16 move, this long before")
    transfer_review_lead_weeks: int = Field(
        default=12, description="warn if a phase-transfer review is not held this long before the deadline"
    )
    reassessment_decision_days: int = Field(
        default=15, description="reg 24: notify the decision whether to reassess, from the request"
    )
    reassessment_plan_weeks: int = Field(default=14, description="reg 27(2): the plan after a decision to reassess")
    unopposed_assessment_notice_weeks: int = Field(
        default=2, description="reg 45(3): conceded refusal to assess, notice that it will assess"
    )
    unopposed_not_to_issue_weeks: int = Field(default=10, description="reg 45(3A)(a): then a decision not to issue")
    unopposed_final_plan_weeks: int = Field(default=14, description="reg 45(3A)(b): or the final plan")
    unopposed_draft_weeks: int = Field(default=5, description="reg 45: conceded refusal to issue, the draft plan")
    unopposed_issue_final_weeks: int = Field(default=11, description="reg 45: conceded refusal to issue, the final")
    unopposed_amended_plan_weeks: int = Field(default=5, description="reg 45(4): conceded contents, the amended plan")
    unopposed_institution_weeks: int = Field(
        default=2, description="reg 45(5): conceded institution named, the amended plan"
    )
    unopposed_absence_min_weeks: int = Field(
        default=2, description="reg 45: an absence from the area this long may excuse an unopposed limit"
    )
    la_transfer_working_days: int = Field(
        default=15, description="reg 15(2): working days to transfer a plan after learning of a move"
    )
    la_transfer_notice_weeks: int = Field(default=6, description="reg 15(4): the new council's notice to the family")
    la_transfer_review_months: int = Field(
        default=3, description="reg 15(5): the new council reviews no sooner than this after the transfer"
    )
    bank_holidays: list[date] = Field(
        default=ENGLAND_BANK_HOLIDAYS, description="days that are not working days, besides weekends (reg 15(2))"
    )
    transfer_notice_lead_weeks: int = Field(
        default=4, description="warn if the proposed amendments are not sent this long before the deadline"
    )


class TransitionRules(BaseModel):
    """When to refer a young person to adult social care, and when an earlier assessment is current.

    Councils differ: some plan from Year 9, some refer at 17 years 9 months; the default is a year
    before 18, which leaves time to assess and plan before the transition. The
    Act sets no expiry for a transition assessment; it asks the adult service to have regard to
    when it was done and whether circumstances changed, so the currency limits are local policy.
    """

    lead_months: int = Field(
        default=12, description="refer this many months before the 18th birthday (12 suggested; local practice)"
    )
    consider_at_age: int = Field(
        default=16, description="ask children's services to consider a transition assessment from this age (s58(1))"
    )
    s66_escalate_days: int = Field(
        default=28, description="escalate s66 continuity this many days after 18 if nothing is settled"
    )
    reuse_max_age_months: int = Field(default=12, description="younger than this and unchanged: recommend reuse")
    reassess_after_months: int = Field(default=24, description="older than this: recommend a new assessment")
    plan_extract_ground: str | None = Field(
        default="SEND Regs 2014 reg 17: disclosure of the EHC plan in the interests of the young person, for the "
        "assessment of their needs for care and support after 18",
        description="the lawful ground recorded for sending plan extracts with a referral; unset: none are sent",
    )


class OrganisationConfig(BaseModel):
    agency: str = Field(
        description="la-sen, school, educational-psychology, nhs, childrens-social-care, adult-social-care"
    )
    code: str = Field(description="LA code, school URN, ODS code, or the service's own code")
    la_code: str | None = Field(default=None, description="for council services: the council whose cases they work on")


class ClientRegistration(BaseModel):
    """One system allowed to call the hub: the organisation it acts for and what it may do."""

    organisation: OrganisationConfig | None = Field(
        default=None, description="none only for the hub operator's own tools, which act for no agency"
    )
    permissions: list[str] = Field(default_factory=list)
    description: str = ""


DEFAULT_ROLE_PERMISSIONS = {
    "viewer": ["ops:read"],
    "operator": ["ops:read", "ops:operate"],
    "admin": ["ops:read", "ops:operate", "personal-data:read"],
    "data-protection-officer": [
        "ops:read",
        "personal-data:read",
        "subject-access:export",
        "subject-access:third-parties",
        "personal-data:erase",
        "legal-holds:manage",
    ],
}


class AuthSettings(BaseModel):
    """Who may call the hub (``HUB_AUTH__...``): the token issuer, the registered clients, the
    sign-in client for people, and the browser and transport protections around them."""

    issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL; unset: `hub run` starts the local Keycloak (deploy/keycloak)",
    )
    audience: str = Field(default="ehc-hub", description="the aud every access token must carry")
    algorithms: list[str] = Field(default=["RS256", "PS256", "ES256"], description="accepted signature algorithms")
    leeway_seconds: float = Field(default=30, description="clock skew allowed on exp and nbf")
    key_refresh_min_seconds: float = Field(
        default=10, description="an unknown key id refetches the key set at most this often"
    )
    clients_file: Path | None = Field(default=None, description="JSON file of client id -> registration")
    clients: dict[str, ClientRegistration] = Field(default_factory=dict, description="client id -> registration")
    client_id_claims: list[str] = Field(
        default=["client_id", "azp", "appid"], description="claims naming the calling client, first present wins"
    )
    people_client_id: str = Field(default="ehc-dashboard", description="the OpenID Connect client people sign in with")
    people_client_secret: SecretStr | None = Field(
        default=None, description="its secret, if it is a confidential client"
    )
    roles_claims: list[str] = Field(
        default=["realm_access.roles", "roles", "groups"], description="where a person's roles are (dotted paths)"
    )
    role_map: dict[str, str] = Field(
        default_factory=dict, description="issuer role or group name -> viewer, operator or admin"
    )
    role_permissions: dict[str, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_ROLE_PERMISSIONS),
        description="viewer, operator, admin, data-protection-officer -> permissions",
    )
    session_secret: SecretStr | None = Field(
        default=None, description="signs session cookies; unset: a random one per start (sign-ins end on restart)"
    )
    session_max_age_seconds: int = Field(default=8 * 3600, description="a sign-in lasts this long")
    pseudonym_key: SecretStr | None = Field(
        default=None, description="HMAC key for pseudonyms; unset: a random one per start (pseudonyms change)"
    )
    public_metrics: bool = Field(default=False, description="serve /metrics without a token")
    public_docs: bool = Field(default=False, description="serve /docs, /openapi.json and /asyncapi without a token")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call from a browser")
    rate_limit_per_minute: float = Field(default=30000, description="requests per client per minute, beyond the burst")
    rate_limit_burst: int = Field(
        default=1000, description="requests a client may make at once before the rate applies"
    )
    max_rate_limited_clients: int = Field(default=100_000, description="token buckets kept (bounded memory)")
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS with this certificate (PEM)")
    tls_key_file: Path | None = Field(default=None, description="and this private key (PEM)")
    tls_client_ca_file: Path | None = Field(default=None, description="ask for client certificates signed by this CA")
    tls_require_client_certificate: bool = Field(
        default=False, description="refuse TLS connections without a client certificate (probes need one too)"
    )
    mtls_clients: dict[str, str] = Field(
        default_factory=dict,
        description="SHA-256 fingerprint (hex) of a client certificate -> the registered client it authenticates",
    )


Role = Literal["intake", "route", "dispatch"]


class DispatchSettings(BaseModel):
    """Delivery of outbound records to each organisation's own system."""

    webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="organisation code -> its webhook signing secret (Standard Webhooks, whsec_ + base64); "
        "every webhook needs one",
    )
    kafka_native: list[str] = Field(
        default_factory=list,
        description="organisation codes or agencies that consume out.<agency>.v1 themselves: nothing is "
        "dispatched to them",
    )
    retry_delays_seconds: list[float] = Field(
        default=[1, 2, 5, 10, 30, 60], description="backoff while a recipient is unreachable; the last repeats"
    )
    give_up_after_seconds: float = Field(
        default=72 * 3600, description="a record still undelivered this long after its first failure is dead-lettered"
    )
    alert_after_seconds: float = Field(
        default=900, description="a recipient unreachable this long raises an operator alert"
    )
    timeout_seconds: float = Field(default=10.0, description="how long one delivery attempt may take")
    batch_size: int = Field(default=200, description="records taken from one recipient's backlog at a time")
    concurrency_per_recipient: int = Field(
        default=8, description="deliveries in flight to one recipient at once (one per case, in order)"
    )
    lease_seconds: float = Field(
        default=30.0, description="how long an instance owns a recipient's backlog without renewing its claim"
    )


RecordKind = Literal["ehc-case", "care-assessment", "transition", "circumstance-change"]
RetentionStart = Literal["date-of-birth", "plan-ceased", "last-activity"]


class RetentionRule(BaseModel):
    """How long one kind of record is kept: from what, for how many years."""

    starts: RetentionStart
    years: int = Field(ge=0, le=150)
    basis: str = Field(default="", description="the guidance or decision the rule follows")


def _default_schedule() -> dict[RecordKind, RetentionRule]:
    return {
        "ehc-case": RetentionRule(
            starts="date-of-birth",
            years=31,
            basis="IRMS Retention Guidelines (SEN files and EHC plans): date of birth + 31 years, the plan's "
            "last possible day (25th birthday) plus the 6-year limitation period",
        ),
        "care-assessment": RetentionRule(
            starts="last-activity",
            years=8,
            basis="IRMS Retention Guidelines (adult social care and carers' assessments): 8 years after the "
            "last contact",
        ),
        "transition": RetentionRule(
            starts="last-activity",
            years=8,
            basis="IRMS Retention Guidelines (adult social care case files): 8 years after the last contact",
        ),
        "circumstance-change": RetentionRule(
            starts="last-activity",
            years=8,
            basis="kept as long as the care records it bears on",
        ),
    }


class RetentionSettings(BaseModel):
    """Records retention schedules: when a person's records have all run their course, the hub
    erases them (crypto-shredding), unless a legal hold stops it."""

    erase_when_due: bool = Field(
        default=False,
        description="erase people whose records are past their schedule, at each sweep; off: the sweep only "
        "reports who is due",
    )
    sweep_seconds: float = Field(default=24 * 3600, description="how often the schedule is applied")
    schedules: dict[str, dict[RecordKind, RetentionRule]] = Field(
        default_factory=lambda: {"*": _default_schedule()},
        description='LA code (or "*" for every council) -> record kind -> {starts, years, basis}; a council\'s '
        "own rules replace the default kind by kind",
    )

    def rules_for(self, la_code: str | None) -> dict[RecordKind, RetentionRule]:
        return {**_default_schedule(), **self.schedules.get("*", {}), **self.schedules.get(la_code or "", {})}


class AuditSettings(BaseModel):
    """The disclosure audit on ``hub.audit.v2``: one record per disclosed event, naming every recipient."""

    also_v1: bool = Field(
        default=False,
        description="also write version 1 of the audit to hub.audit.v1, a record per recipient, for "
        "consumers that have not yet moved to version 2",
    )


class PrivacySettings(BaseModel):
    """Crypto-shredding: the personal parts of events are sealed with a data key per person."""

    seal_personal_data: bool = Field(
        default=True,
        description="seal identifiers, names, dates of birth and free text in every event the hub publishes, so "
        "erasing a person (destroying their keys) makes every copy unreadable",
    )
    master_key: SecretStr | None = Field(
        default=None, description="the master secret, base64 of 32 or more random bytes; else the key file is used"
    )
    master_key_file: str = Field(
        default="./hub-master.key", description="where the master secret is kept; made (mode 0600) on first start"
    )
    key_wrapper: str | None = Field(
        default=None,
        description="package.module:factory of a KMS or HSM key wrapper (hub.privacy.keys.KeyWrapper), called "
        "with these settings; default: AES-256-GCM under a key derived from the master secret",
    )
    key_cache_seconds: float = Field(
        default=60.0,
        description="how long an instance keeps an unwrapped data key; bounds how long another "
        "instance's erasure takes to reach it",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    rules: StatutoryRules = Field(default_factory=StatutoryRules)
    transitions: TransitionRules = Field(default_factory=TransitionRules)
    health_commissioners: dict[str, str] = Field(
        default_factory=lambda: {"202": "QMJ", "208": "QKK"},
        description="LA code -> ODS code of its integrated care board, which reg 4(2) notifications go to "
        "(the defaults are the development LAs': North Central and South East London ICBs)",
    )
    adult_social_care_endpoints: dict[str, str] = Field(
        default_factory=dict, description='LA code -> URL of its adult social care system, e.g. {"202": "https://..."}'
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="an existing cluster; when unset, `hub run` starts the local broker",
    )
    kafka_security_protocol: str = Field(default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(default=None, description="SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN")
    kafka_sasl_username: str | None = Field(default=None, description="the hub's SASL user")
    kafka_sasl_password: str | None = Field(default=None, description="and its password")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle for SSL and SASL_SSL; default: system CAs"
    )
    kafka_hub_principal: str = Field(default="User:hub", description="the hub's own principal, for its ACLs")
    kafka_agency_principals: dict[str, str] = Field(
        default_factory=lambda: {
            a: f"User:{a}"
            for a in ("la-sen", "school", "educational-psychology", "nhs", "childrens-social-care", "adult-social-care")
        },
        description="agency -> principal allowed to read out.<agency>.v1 directly",
    )
    topic_replication_factor: int = Field(default=1, description="3 in production clusters")
    topic_partitions: int = Field(default=3, description="partitions per topic")
    topic_prefix: str = Field(default="", description="prepended to every topic name, to isolate tenants or tests")
    group_id: str = Field(default="ehc-hub", description="consumer group shared by all hub instances")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./hub.db",
        description="SQLAlchemy async URL; postgresql+asyncpg://... in production",
    )

    retry_delays_seconds: list[float] = Field(
        default=[1.0, 10.0, 60.0],
        description="one retry tier per delay; after the last, the record is dead-lettered",
    )
    routing_lanes: int = Field(
        default=1,
        ge=1,
        le=16,
        description="parts a batch of events is routed in side by side, each case wholly in one: one judges and "
        "sends while another waits for the broker and the store; for a broker and store a network away",
    )
    publish_timeout_seconds: float = Field(
        default=10.0,
        description="how long a request waits for its event to be durable on Kafka before answering 503",
    )
    clock_sweep_seconds: float = Field(default=300.0, description="how often statutory clocks are checked")
    today: date | None = Field(default=None, description="pin today's date (replays, demonstrations)")
    webhooks: dict[str, str] = Field(
        default_factory=dict,
        description="organisation code -> URL of its system, which takes every record meant for it as a signed "
        'CloudEvent, e.g. {"100001": "https://..."}',
    )
    fhir_endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="ODS code -> FHIR base URL of a provider that takes pushed messages ($process-message)",
    )
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    roles: list[Role] = Field(
        default=["route", "dispatch"],
        description="what this instance does besides serving HTTP: route (the canonical topics, retries and "
        "clocks) and dispatch (delivery to agencies' systems), so each can be scaled on its own; intake alone "
        "serves HTTP (the ingress, FHIR, the ops API) with no consumers, so accepting runs apart from routing",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, description="larger request bodies (outside /fhir and CSV imports) are refused with 413"
    )
    csv_max_bytes: int = Field(default=512 * 1024 * 1024, description="larger CSV imports are refused with 413")
    fhir_max_body_bytes: int = Field(default=5 * 1024 * 1024, description="larger FHIR bodies are refused with 413")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    public_base_url: str | None = Field(
        default=None, description="how agencies reach this hub (callback URLs); default http://HOST:PORT"
    )
    http_host: str = Field(default="127.0.0.1", description="where the HTTP API listens")
    http_port: int = Field(default=8080, description="and on which port")
    source_uri: str = Field(default="/ehc-hub", description="the CloudEvents source of events the hub itself makes")
    log_format: str = Field(default="auto", description="auto (JSON unless a terminal), json or console")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    @model_validator(mode="after")
    def _every_webhook_signed(self) -> Settings:
        unsigned = sorted(set(self.webhooks) - set(self.dispatch.webhook_secrets))
        if unsigned:
            raise ValueError(f"HUB_DISPATCH__WEBHOOK_SECRETS has no signing secret for the webhooks of {unsigned}")
        return self


def public_url(settings: Settings) -> str:
    return settings.public_base_url or f"http://{settings.http_host}:{settings.http_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reference() -> list[tuple[str, str, str]]:
    """(environment variable, default, meaning) for every setting, nested ones included: the table
    the README's settings reference prints, so no setting goes undocumented."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, f"{prefix}{name.upper()}__")
                continue
            variable = field.validation_alias if isinstance(field.validation_alias, str) else prefix + name.upper()
            value = field.get_default(call_default_factory=True)
            default = "" if value is None else json.dumps(value, default=str)
            rows.append((variable, default, field.description or ""))

    walk(Settings, "HUB_")
    return rows


def reference_table() -> str:
    """The settings reference as a Markdown table (``hub settings``; the README carries it)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for variable, default, meaning in reference():
        shown = f"`{default}`" if default else "unset"
        lines.append(f"| `{variable}` | {shown.replace('|', chr(92) + '|')} | {meaning.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"
