"""What the rules know of a case, an advice request, a referral and a person's assessments.

Immutable values the store builds from its rows, so a rule cannot change what it reads and a
test can build the same state with plain constructors. The rules answer with facts
(``hub.domain.facts``); they never see a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from schemas.common import Adviser, PersonRef
from schemas.events import OfferedAssessment, PlanSections


@dataclass(frozen=True, slots=True)
class AdviceRequest:
    """One piece of advice the LA asked for (reg 6), or reused under reg 6(4)."""

    request_id: str
    case_id: str
    advice_kind: str
    recipient_agency: str
    recipient_code: str
    requested_date: date
    received_date: date | None = None
    submitted_date: date | None = None
    submission_event_id: str | None = None
    task_status: str | None = None
    status_reason: str | None = None
    signed_off: bool | None = None
    reused: bool = False
    review_id: str | None = None


@dataclass(frozen=True, slots=True)
class CaseException:
    """A circumstance the LA recorded that may excuse a time limit (regs 5(4), 8(2), 10(4), 13(3))."""

    exception_id: str
    case_id: str
    kind: str
    start_date: date
    end_date: date
    recorded_by: str
    request_id: str | None = None
    limit_impractical: bool = False


@dataclass(frozen=True, slots=True)
class Review:
    """One review of a plan (CFA s44, regs 18-22), or a reassessment of its needs (regs 23-27,
    ``review_type`` reassessment), as far as its steps have been recorded."""

    review_id: str
    case_id: str
    review_type: str = "annual"
    requested_date: date | None = None
    scheduled_date: date | None = None
    meeting_date: date | None = None
    advice_circulated_date: date | None = None
    held_date: date | None = None
    pfa_considered: bool | None = None
    report_sent_date: date | None = None
    decision: str | None = None
    decision_notified_date: date | None = None
    amendments_proposed_date: date | None = None
    amended_plan_date: date | None = None

    def meeting(self) -> date | None:
        return self.held_date or self.meeting_date


@dataclass(frozen=True, slots=True)
class Appeal:
    """One dispute about the case: mediation, an appeal to the Tribunal, and what the LA did."""

    appeal_id: str
    case_id: str
    subject: str
    mediation_requested_date: date | None = None
    certificate_date: date | None = None
    registered_date: date | None = None
    conceded_date: date | None = None
    order_date: date | None = None
    order_due_date: date | None = None
    concluded_date: date | None = None
    assessment_notice_date: date | None = None
    not_to_issue_notice_date: date | None = None
    draft_plan_date: date | None = None
    final_plan_date: date | None = None
    amended_plan_date: date | None = None
    order_complied_date: date | None = None


@dataclass(frozen=True, slots=True)
class LaTransfer:
    """A plan moving to another council (reg 15)."""

    transfer_id: str
    case_id: str
    old_la_code: str
    new_la_code: str
    move_date: date | None = None
    aware_date: date | None = None
    transferred_date: date | None = None
    notified_date: date | None = None


@dataclass(frozen=True, slots=True)
class PersonalBudget:
    """A request for a personal budget and the LA's decision (CFA s49)."""

    budget_id: str
    case_id: str
    requested_at: str | None = None
    requested_date: date | None = None
    decision: str | None = None
    decided_date: date | None = None
    direct_payments: bool | None = None


@dataclass(frozen=True, slots=True)
class PhaseTransfer:
    """A move between phases of education the LA recorded (reg 18)."""

    transfer_id: str
    case_id: str
    transfer_kind: str
    transfer_date: date
    next_institution: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One EHC needs assessment as the hub knows it, with its advice requests and exceptions."""

    case_id: str
    la_code: str | None = None
    received_date: date | None = None
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
    withheld_from: frozenset[str] = frozenset()
    advice: Mapping[str, AdviceRequest] = field(default_factory=dict)
    exceptions: tuple[CaseException, ...] = ()
    reviews: Mapping[str, Review] = field(default_factory=dict)
    transfers: tuple[PhaseTransfer, ...] = ()
    appeals: Mapping[str, Appeal] = field(default_factory=dict)
    budgets: Mapping[str, PersonalBudget] = field(default_factory=dict)
    la_transfers: Mapping[str, LaTransfer] = field(default_factory=dict)

    @property
    def owner(self) -> str | None:
        """The council that maintains the case now: the one it was opened by, until a transfer
        (reg 15), then the council of the latest transfer."""
        moved = [m for m in self.la_transfers.values() if m.transferred_date is not None]
        return max(moved, key=lambda m: (m.transferred_date, m.transfer_id)).new_la_code if moved else self.la_code

    def school_on(self, day: date) -> str | None:
        """The school or college the plan names on ``day``: the one the request named, until a
        recorded move to a named institution has happened."""
        moved = [t for t in self.transfers if t.next_institution and t.transfer_date <= day]
        return max(moved, key=lambda t: t.transfer_date).next_institution if moved else self.school_code

    def incoming_on(self, day: date) -> list[str]:
        """Institutions a recorded move will take the young person to after ``day``: each receives
        the plan alongside the current school (reg 18)."""
        return sorted({t.next_institution for t in self.transfers if t.next_institution and t.transfer_date > day})


@dataclass(frozen=True, slots=True)
class CareAssessment:
    """A Care Act assessment on record: a child's needs (s58), a carer's (s60) or a young carer's (s63)."""

    assessment_id: str
    la_code: str
    assessment_type: str
    assessed_key: str | None
    assessed_person: PersonRef
    cared_for_keys: tuple[str, ...]
    cared_for: tuple[PersonRef, ...]
    status: str
    completed_date: date
    assessor: Adviser
    eligibility: str
    material_change_flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CircumstanceChange:
    change_id: str
    person_key: str | None
    change_date: date
    description: str


@dataclass(frozen=True, slots=True)
class TransitionDetermination:
    """Children's services' s58(1)/s63(1) judgement for one young person (see TransitionNeedDetermined)."""

    determination_id: str
    la_code: str
    person_key: str | None
    person: PersonRef
    determined_date: date
    proceeds: bool
    childrens_services: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AssessmentDecision:
    """The adult service's answer on one offered assessment: treated as the adult one, or not."""

    referral_id: str
    assessment_id: str
    accepted: bool
    reason: str
    decided_by: str
    decision_date: date
    decision_event_id: str


@dataclass(frozen=True, slots=True)
class Referral:
    """A transition referral to adult social care, with the adult service's answers so far."""

    referral_id: str
    person_key: str | None
    la_code: str
    eighteenth_birthday: date
    issued_date: date
    offered: tuple[OfferedAssessment, ...]
    acknowledged_date: date | None = None
    adult_case_id: str | None = None
    support_in_place_date: date | None = None
    no_eligible_needs_date: date | None = None
    decisions: Mapping[str, AssessmentDecision] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TransitionSources:
    """Everything the transition planner reads: open cases that may lead to a referral, Care Act
    assessments, changes of circumstances, referrals issued and the adult service's decisions."""

    cases: tuple[Case, ...] = ()
    csc_case_ids: frozenset[str] = frozenset()
    assessments: tuple[CareAssessment, ...] = ()
    changes: tuple[CircumstanceChange, ...] = ()
    determinations: tuple[TransitionDetermination, ...] = ()
    referrals: tuple[Referral, ...] = ()
    decisions: tuple[AssessmentDecision, ...] = ()


@dataclass(frozen=True, slots=True)
class Disclosed:
    """One record about a person that the hub sent an organisation, as the disclosure audit has it."""

    agency: str
    organisation: str | None
    event_type: str  # the CloudEvents type
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person the hub holds, and what it sent of them to whom: what a correction is judged
    against and sent on by."""

    person_key: str
    identifiers: tuple[tuple[str, str], ...] = ()  # every identifier linked to them
    disclosed: tuple[Disclosed, ...] = ()


Context = Case | Referral | PersonRecord
"""What an event is judged against: its case, for the adult service's answers its referral, and
for a correction of a person's details the person."""
