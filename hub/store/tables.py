"""The projection store's tables: what the hub needs to query, all rebuildable from the topics."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("topic", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("case_id", String(128), index=True),
    Column("correlation_id", String(128), index=True),
    Column("causation_id", String(128)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source", String(255), nullable=False),
    Column("redrive_lineage", Text),
    Column("record_key", String(128), index=True, doc="its case, or its own id when it names none"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(128), primary_key=True),
    Column("la_code", String(16)),
    Column("received_date", Date),
    Column("stage_rank", Integer, nullable=False, default=0),
    Column("event_count", Integer, nullable=False, default=0),
    Column("person", JSON(none_as_null=True)),
    Column("person_key", String(64), index=True),
    Column("year_group", Integer),
    Column("school_code", String(64), doc="the school the request named: the school disclosures go to"),
    Column("decision", String(16)),
    Column("decision_date", Date),
    Column("decision_notified_date", Date, doc="regs 4(1), 5(1): the 6-week limit stops here"),
    Column("not_issue_notified_date", Date, doc="reg 10(1): the 16-week limit stops here"),
    Column("draft_served_date", Date, doc="reg 13(1): representations run 15 days from here"),
    Column("final_plan_sent_date", Date, doc="reg 13(2): the 20-week limit stops here"),
    Column("panel_date", Date),
    Column("panel_outcome", String(32)),
    Column("draft_date", Date),
    Column("final_plan_date", Date),
    Column("last_review_date", Date),
    Column("ceased_date", Date, doc="when the plan stops being maintained: the cease notice plus the time to appeal"),
    Column("cease_decided_date", Date),
    Column("plan_sections", JSON(none_as_null=True)),
    Column("plan_sections_date", Date),
    Column("withheld_from", JSON(none_as_null=True), doc="agencies the family objected to sharing with"),
)

advice_requests = Table(
    "advice_requests",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("advice_kind", String(64), nullable=False),
    Column("recipient_agency", String(64), nullable=False),
    Column("recipient_code", String(64), nullable=False, index=True),
    Column("requested_date", Date, nullable=False),
    Column("received_date", Date),
    Column("submitted_date", Date),
    Column("task_status", String(16), doc="accepted, rejected or in-progress, as the adviser last said"),
    Column("status_reason", Text),
    Column("submission_event_id", String(128)),
    Column("signed_off", Integer),
    Column(
        "reused",
        JSON(none_as_null=True),
        doc="reg 6(4): who agreed existing advice is sufficient, when this advice is reused",
    ),
    Column(
        "request",
        JSON(none_as_null=True),
        doc="the AdviceRequested event as sent, for recipients that fetch their work",
    ),
    Column("review_id", String(128), doc="advice for a review of the plan, not for the assessment"),
)

reviews = Table(
    "reviews",
    metadata,
    Column("review_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("review_type", String(32), nullable=False, doc="annual, year-9, phase-transfer, early or reassessment"),
    Column("requested_date", Date, doc="a reassessment: when it was asked for (reg 24)"),
    Column("scheduled_date", Date, doc="regs 20(3), 21(3): the invitations went out"),
    Column("meeting_date", Date),
    Column("advice_circulated_date", Date, doc="regs 20(4), 21(4): two weeks before the meeting"),
    Column("held_date", Date),
    Column("pfa_considered", Boolean),
    Column("report_sent_date", Date, doc="regs 20(7), 21(7): two weeks after the meeting"),
    Column("decision", String(16)),
    Column("decision_notified_date", Date, doc="reg 22(2): four weeks after the meeting"),
    Column("amendments_proposed_date", Date),
    Column("amended_plan_date", Date, doc="reg 22(3): eight weeks after the proposed amendments"),
)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("subject", String(32), nullable=False, doc="the right of appeal used (CFA s51(2))"),
    Column("mediation_requested_date", Date),
    Column("certificate_date", Date),
    Column("registered_date", Date),
    Column("conceded_date", Date, doc="reg 45: the LA told the Tribunal it will not oppose"),
    Column("order_date", Date),
    Column("order_due_date", Date),
    Column("concluded_date", Date),
    Column("assessment_notice_date", Date),
    Column("not_to_issue_notice_date", Date),
    Column("draft_plan_date", Date),
    Column("final_plan_date", Date),
    Column("amended_plan_date", Date),
    Column("order_complied_date", Date),
)

la_transfers = Table(
    "la_transfers",
    metadata,
    Column("transfer_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("old_la_code", String(16), nullable=False),
    Column("new_la_code", String(16), nullable=False),
    Column("move_date", Date),
    Column("aware_date", Date),
    Column("transferred_date", Date, doc="reg 15(2): on the move, or 15 working days from becoming aware"),
    Column("notified_date", Date, doc="reg 15(4): the new council tells the family within 6 weeks"),
)

personal_budgets = Table(
    "personal_budgets",
    metadata,
    Column("budget_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("requested_at", String(16)),
    Column("requested_date", Date),
    Column("decision", String(16)),
    Column("decided_date", Date),
    Column("direct_payments", Boolean),
)

phase_transfers = Table(
    "phase_transfers",
    metadata,
    Column("transfer_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("transfer_kind", String(32), nullable=False),
    Column("transfer_date", Date, nullable=False),
    Column("next_institution", String(64), doc="receives the plan with the current school until the move"),
)

case_exceptions = Table(
    "case_exceptions",
    metadata,
    Column("exception_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("request_id", String(128)),
    Column("recorded_by", String(255), nullable=False),
    Column("limit_impractical", Boolean, nullable=False, default=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", String(128), primary_key=True),
    Column("case_id", String(128), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("due_date", Date),
    Column("agency", String(64)),
    Column("organisation", String(64)),
    Column("message", Text, nullable=False),
    Column("raised_on", Date, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", String(128), primary_key=True),
    Column("source_event_id", String(128), nullable=False, index=True),
    Column("case_id", String(128), index=True),
    Column("recipient", String(64), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("event_type", String(255), nullable=False),
    Column("fields", JSON, nullable=False),
    Column("organisation", String(64), doc="the receiving organisation's code, where one was named"),
    Column("lawful_basis", Text, doc="as the disclosure audit records it"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("dlq_id", String(64), primary_key=True),  # "<partition>-<offset>" in the DLQ topic
    Column("dlq_partition", Integer, nullable=False),
    Column("dlq_offset", BigInteger, nullable=False),
    Column("original_topic", String(255), nullable=False),
    Column("original_partition", Integer, nullable=False),
    Column("original_offset", BigInteger, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("exception_class", String(255), nullable=False),
    Column("exception_message", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failure", DateTime(timezone=True), nullable=False),
    Column("event_id", String(128)),
    Column("event_type", String(255)),
    Column("case_id", String(128), index=True),
    Column("redrive_count", Integer, nullable=False, default=0),
)

ops_audit = Table(
    "ops_audit",
    metadata,
    Column("audit_id", String(128), primary_key=True),
    Column("action", String(64), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSON, nullable=False),
)

care_assessments = Table(
    "care_assessments",
    metadata,
    Column("assessment_id", String(128), primary_key=True),
    Column("la_code", String(16), nullable=False),
    Column("assessment_type", String(32), nullable=False),
    Column("assessed_key", String(64), index=True),
    Column("assessed_person", JSON, nullable=False),
    Column("cared_for_keys", JSON, nullable=False),
    Column("cared_for", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("completed_date", Date, nullable=False),
    Column("assessor", JSON, nullable=False),
    Column("eligibility", String(32), nullable=False),
    Column("material_change_flags", JSON, nullable=False),
)

circumstance_changes = Table(
    "circumstance_changes",
    metadata,
    Column("change_id", String(128), primary_key=True),
    Column("person_key", String(64), index=True),
    Column("change_date", Date, nullable=False),
    Column("description", Text, nullable=False),
)

transition_determinations = Table(
    "transition_determinations",
    metadata,
    Column("determination_id", String(128), primary_key=True),
    Column("la_code", String(16), nullable=False),
    Column("person_key", String(64), index=True),
    Column("person", JSON, nullable=False),
    Column("determined_date", Date, nullable=False),
    Column("proceeds", Boolean, nullable=False, doc="likely need, significant benefit, and a footing to proceed"),
    Column("childrens_services", JSON, nullable=False, doc="s17 / CSDPA s2 services received: s66 applies"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(128), primary_key=True),
    Column("person_key", String(64), index=True),
    Column("la_code", String(16), nullable=False),
    Column("eighteenth_birthday", Date, nullable=False),
    Column("issued_date", Date, nullable=False),
    Column("offered", JSON, nullable=False),
    Column("acknowledged_date", Date),
    Column("adult_case_id", String(128)),
    Column("support_in_place_date", Date),
    Column("no_eligible_needs_date", Date),
)

assessment_decisions = Table(
    "assessment_decisions",
    metadata,
    Column("referral_id", String(128), primary_key=True),
    Column("assessment_id", String(128), primary_key=True),
    Column("accepted", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", String(255), nullable=False),
    Column("decision_date", Date, nullable=False),
    Column("decision_event_id", String(128), nullable=False),
)

person_links = Table(
    "person_links",
    metadata,
    Column("id_type", String(64), primary_key=True),
    Column("id_value", String(64), primary_key=True),
    Column("person_key", String(64), nullable=False, index=True),
)

claims = Table(
    "claims",
    metadata,
    Column("claim_key", String(255), primary_key=True),
    Column("event_id", String(128), nullable=False),
    Column("token", String(64), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    comment="ingress-side: which request publishes an event or a once-only fact; not rebuilt from the topics",
)

dispatches = Table(
    "dispatches",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("dispatch_id", String(128), nullable=False, unique=True),  # the outbound record's event id
    Column("recipient", String(96), nullable=False),  # "<agency>:<organisation code>"
    Column("channel", String(32), nullable=False),
    Column("case_id", String(128), index=True),
    Column("event_type", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", Text),
    Column("headers", JSON, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_failure", DateTime(timezone=True)),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("answer", Integer),  # the recipient's HTTP status, last time it was asked
    Column("last_error", Text),
    Index("ix_dispatches_backlog", "recipient", "status", "seq"),
    comment="outbound-side: each record's delivery to its recipient's own system; not rebuilt from the topics",
)

dispatch_lanes = Table(
    "dispatch_lanes",
    metadata,
    Column("recipient", String(96), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("owner", String(64)),  # the instance delivering to it now
    Column("lease_until", Float, nullable=False, default=0.0),
    Column("parked_until", Float, nullable=False, default=0.0),
    Column("failing_since", DateTime(timezone=True)),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("alerted", Boolean, nullable=False, default=False),
    comment="one per recipient system: who delivers to it, and whether it is parked after failures",
)

heartbeat = Table(
    "heartbeat",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    comment="written by each readiness probe: a store that can be read but not written is not ready",
)

STEP_TABLES = {
    "reviews": reviews,
    "appeals": appeals,
    "budgets": personal_budgets,
    "la_transfers": la_transfers,
}
"""Processes recorded a step at a time, each row keyed by its own id and merged as steps arrive:
named as the case's field and the outcome's list that carry them."""

person_corrections = Table(
    "person_corrections",
    metadata,
    Column("correction_id", String(128), primary_key=True),
    Column("person_key", String(64), index=True),
    Column("la_code", String(16), nullable=False),
    Column("corrected_date", Date, nullable=False),
    Column("corrected_fields", JSON, nullable=False, doc="which details were wrong, never their values"),
)

ALL_TABLES = (
    processed_events,
    cases,
    person_links,
    care_assessments,
    circumstance_changes,
    transition_determinations,
    referrals,
    assessment_decisions,
    advice_requests,
    case_exceptions,
    reviews,
    phase_transfers,
    appeals,
    personal_budgets,
    la_transfers,
    alerts,
    deliveries,
    person_corrections,
    dead_letters,
    ops_audit,
)


REPLAY_UNREAD_INDEXES: tuple[Index, ...] = tuple(
    index
    for table in (processed_events, deliveries, alerts)
    for index in sorted(table.indexes, key=lambda i: i.name or "")
)
"""Indexes a rebuild writes but never reads: they serve the ops API, subject access and erasure.
A rebuild builds them once at its end (see ``Database.bulk_load``)."""

kept = MetaData()
"""Tables a rebuild never drops: they are not derived from the topics, and the topics cannot be
read without them (the data keys) or must not forget them (the erasure log)."""

data_keys = Table(
    "data_keys",
    kept,
    Column("kid", String(64), primary_key=True, doc="a keyed blind index of a person's identifier or of a case"),
    Column("wrapped", LargeBinary, doc="the data key wrapped by the key-encryption key; NULL once destroyed"),
    Column("wrapper", String(64), nullable=False, doc="which key-encryption key wrapped it"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("destroyed_at", DateTime(timezone=True)),
)

erasures = Table(
    "erasures",
    kept,
    Column("erasure_id", String(128), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", String(64), nullable=False, doc="subject-request, retention or another ground"),
    Column("subject", String(64), nullable=False, doc="the person's pseudonym, never an identifier"),
    Column("keys_destroyed", Integer, nullable=False),
    Column("rows_redacted", Integer, nullable=False),
)

legal_holds = Table(
    "legal_holds",
    kept,
    Column("hold_id", String(128), primary_key=True),
    Column("person_key", String(64), index=True, doc="a person held, or NULL for a case"),
    Column("case_id", String(128), index=True, doc="a case held: its person cannot be erased"),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(255), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("released_by", String(255)),
    Column("released_at", DateTime(timezone=True)),
)
