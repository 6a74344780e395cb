"""What judging one event yields: the facts it establishes, or the rule it breaks.

Facts are typed values the store maps to its tables; a rule says "this advice request was opened"
or "the case's panel date is now this", never which table or column that becomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from hub.domain.state import (
    Appeal,
    AssessmentDecision,
    CareAssessment,
    CaseException,
    CircumstanceChange,
    LaTransfer,
    PersonalBudget,
    PhaseTransfer,
    Referral,
    Review,
    TransitionDetermination,
)
from schemas.common import OrganisationRef, PersonRef
from schemas.events import (
    AdviceRequested,
    AlertRaised,
    Event,
    ExistingAdviceAgreement,
    OfferedAssessment,
    PlanSections,
)


class RuleViolation(Exception):
    def __init__(self, message: str, *, field: str, rule: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """What an event establishes about its case; a field left ``None`` is not touched.

    Facts recorded once (who the person is, the decision, the plan's dates) keep their first value
    however the topics interleave; the latest review, panel and plan sections follow their dates."""

    person: PersonRef | None = None
    person_key: str | None = None
    year_group: int | None = None
    school_code: str | None = None
    decision: str | None = None
    decision_date: date | None = None
    decision_notified_date: date | None = None
    not_issue_notified_date: date | None = None
    draft_served_date: date | None = None
    final_plan_sent_date: date | None = None
    panel_date: date | None = None
    panel_outcome: str | None = None
    draft_date: date | None = None
    final_plan_date: date | None = None
    last_review_date: date | None = None
    ceased_date: date | None = None
    cease_decided_date: date | None = None
    plan_sections: PlanSections | None = None
    plan_sections_date: date | None = None
    withheld_from: frozenset[str] | None = None

    def given(self) -> dict[str, object]:
        """The fields this update sets, by name."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}


@dataclass(frozen=True, slots=True)
class AdviceRequestOpened:
    """Advice asked of an adviser (``request`` is what was sent), or reused with agreement (reg 6(4))."""

    request_id: str
    case_id: str
    advice_kind: str
    recipient: OrganisationRef
    requested_date: date
    request: AdviceRequested | None = None
    reused: ExistingAdviceAgreement | None = None
    review_id: str | None = None


@dataclass(frozen=True, slots=True)
class AdviceProgress:
    """How an advice request moved on: received, accepted or rejected, or answered."""

    request_id: str
    received_date: date | None = None
    task_status: str | None = None
    status_reason: str | None = None
    submitted_date: date | None = None
    submission_event_id: str | None = None
    signed_off: bool | None = None


@dataclass(frozen=True, slots=True)
class ReferralProgress:
    """The adult service acknowledged a transition referral (and may say support is in place)."""

    referral_id: str
    acknowledged_date: date
    adult_case_id: str | None = None
    support_in_place_date: date | None = None
    no_eligible_needs_date: date | None = None


@dataclass(frozen=True, slots=True)
class ReferralOffers:
    """More assessments offered on a transition referral, recorded after it was issued."""

    referral_id: str
    offered: tuple[OfferedAssessment, ...]


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    alert: AlertRaised
    raised_on: date


@dataclass(frozen=True, slots=True)
class PersonCorrection:
    """Details of a person to correct wherever the store holds them, found by their identifiers."""

    correction_id: str
    person_key: str
    la_code: str
    corrected_date: date
    identifiers: tuple[tuple[str, str], ...]
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PersonLink:
    """An identifier now known to point at a person key (see ``hub.domain.identity``)."""

    id_type: str
    id_value: str
    person_key: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A minimised copy of an event sent to one agency, as the disclosure record names it."""

    delivery_id: str
    recipient: str
    topic: str
    event_type: str
    fields: list[str]
    organisation: str | None = None
    lawful_basis: str | None = None


@dataclass
class Outcome:
    """Everything one event establishes, and the events it gives rise to."""

    case: CaseUpdate | None = None
    advice_opened: list[AdviceRequestOpened] = field(default_factory=list)
    advice_progress: list[AdviceProgress] = field(default_factory=list)
    exceptions: list[CaseException] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    transfers: list[PhaseTransfer] = field(default_factory=list)
    appeals: list[Appeal] = field(default_factory=list)
    budgets: list[PersonalBudget] = field(default_factory=list)
    la_transfers: list[LaTransfer] = field(default_factory=list)
    assessments: list[CareAssessment] = field(default_factory=list)
    changes: list[CircumstanceChange] = field(default_factory=list)
    determinations: list[TransitionDetermination] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    referral_progress: list[ReferralProgress] = field(default_factory=list)
    referral_offers: list[ReferralOffers] = field(default_factory=list)
    decisions: list[AssessmentDecision] = field(default_factory=list)
    corrections: list[PersonCorrection] = field(default_factory=list)
    emitted: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class CaseEffect:
    """What one processed event does to the store: the event's own record, its outcome, the
    copies delivered, the alerts raised and the identifiers linked."""

    event_id: str
    topic: str
    event_type: str
    occurred_at: datetime
    source: str
    correlation_id: str
    causation_id: str | None
    case_id: str | None
    la_code: str | None = None
    received_date: date | None = None
    stage_rank: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    redrive_lineage: str | None = None
    outcome: Outcome = field(default_factory=Outcome)
    alerts: list[RaisedAlert] = field(default_factory=list)
    person_links: list[PersonLink] = field(default_factory=list)
    record_key: str | None = None
    """What the event travels under: its case, or its own id (a referral, an assessment) without one."""
