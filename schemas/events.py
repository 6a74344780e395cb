"""Canonical event payloads for flows F1 to F8 (design.md section 1).

Each class is one published contract. Its ``event_type`` and ``version`` name it on the wire
(``uk.ehc-hub.<event_type>.v<version>``) and ``topic`` says where it lives. A published version
only ever changes in backward-compatible ways (``hub schemas check`` enforces it); anything else
is a new version alongside the old one.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from schemas.common import AdviceKind, Adviser, Agency, Contract, OrganisationRef, PersonRef
from schemas.identifiers import LaCode


class Event(Contract):
    """Base of every canonical event payload."""

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str] = "case_id"

    def key(self) -> str:
        """Kafka key: the case (or person) so one young person's events stay in order."""
        return str(getattr(self, self.key_field))

    @classmethod
    def cloudevent_type(cls) -> str:
        return f"uk.ehc-hub.{cls.event_type}.v{cls.version}"


CaseId = str


class Requester(StrEnum):
    PARENT = "parent"
    YOUNG_PERSON = "young-person"
    SCHOOL_OR_COLLEGE = "school-or-college"
    LA_S24 = "la-s24"


class AssessmentRequested(Event):
    """F1: a request for an EHC needs assessment was received (Day 1 of every clock)."""

    event_type: ClassVar[str] = "assessment-requested"
    topic: ClassVar[str] = "ehc.assessment-requests.v1"

    case_id: CaseId = Field(min_length=1, max_length=64)
    la_code: LaCode
    person: PersonRef
    requested_by: Requester
    received_date: date = Field(description="Day 1: the date the LA received the request")
    school: OrganisationRef | None = None
    year_group: int | None = Field(default=None, ge=-2, le=14, description="NCY; from 9 PfA advice is required")


class AdviceSource(Contract):
    """One kind of advice and the organisation the LA asks for it."""

    advice_kind: AdviceKind
    organisation: OrganisationRef


class ExistingAdviceAgreement(Contract):
    """Reg 6(4): advice already given that the adviser, the LA and the family agree is sufficient."""

    advice_kind: AdviceKind
    adviser: Adviser
    given_date: date
    agreed_by_adviser: bool
    agreed_by_la: bool
    agreed_by_family: bool

    @property
    def sufficient(self) -> bool:
        return self.agreed_by_adviser and self.agreed_by_la and self.agreed_by_family


class AssessmentDecisionMade(Event):
    """F2: the LA decided whether to assess (reg 5)."""

    event_type: ClassVar[str] = "assessment-decision-made"
    topic: ClassVar[str] = "ehc.assessment-decisions.v1"

    case_id: CaseId
    la_code: LaCode
    decision: Literal["assess", "not-assess"]
    decision_date: date
    advisers: list[OrganisationRef] = Field(
        default_factory=list,
        description="who to ask for advice; the kind follows from the agency (school: education, "
        "educational-psychology, nhs: health, childrens-social-care: social care)",
    )
    existing_advice: list[ExistingAdviceAgreement] = Field(default_factory=list)
    advice_sources: list[AdviceSource] = Field(
        default_factory=list,
        description="advice kinds named explicitly with their adviser (PfA, hearing or vision, others the LA names)",
    )


class AdviceRequested(Event):
    """F2 fan-out: the hub asks one adviser for one kind of advice; the reg 8 clock runs from receipt."""

    event_type: ClassVar[str] = "advice-requested"
    topic: ClassVar[str] = "ehc.advice-requests.v1"

    case_id: CaseId
    request_id: str
    advice_kind: AdviceKind
    recipient: OrganisationRef
    person: PersonRef
    requested_date: date
    due_date: date
    review_id: str | None = Field(
        default=None, description="advice for a review of the plan: due in time to circulate it before the meeting"
    )


class AdviceRequestReceived(Event):
    """F2: an adviser received the LA's request (webhook delivered or first fetch); reg 8's clock starts."""

    event_type: ClassVar[str] = "advice-request-received"
    topic: ClassVar[str] = "ehc.advice-receipts.v1"

    case_id: CaseId
    request_id: str
    recipient: OrganisationRef
    received_date: date
    channel: Literal["webhook", "poll", "fhir-push", "fhir-poll", "manual"]


class AdviceRequestStatusChanged(Event):
    """F2: an adviser accepted, rejected (with a reason) or started work on an advice request."""

    event_type: ClassVar[str] = "advice-request-status-changed"
    topic: ClassVar[str] = "ehc.advice-request-status.v1"

    case_id: CaseId
    request_id: str
    status: Literal["accepted", "rejected", "in-progress"]
    reason: str | None = None
    changed_date: date
    changed_by: OrganisationRef

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> AdviceRequestStatusChanged:
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejection needs a reason")
        return self


class ExceptionKind(StrEnum):
    """Permitted exceptions to the EHC time limits (regs 5(4), 8(2), 10(4), 13(3))."""

    SCHOOL_CLOSURE = "school-closure"
    EARLY_YEARS_CLOSURE = "early-years-closure"
    EXCEPTIONAL_PERSONAL_CIRCUMSTANCES = "exceptional-personal-circumstances"
    ABSENT_FROM_AREA = "absent-from-area"
    MISSED_APPOINTMENT = "missed-appointment"


class CaseExceptionRecorded(Event):
    """An exception to the time limits, recorded by the LA for one case, with its dates."""

    event_type: ClassVar[str] = "case-exception-recorded"
    topic: ClassVar[str] = "ehc.case-exceptions.v1"

    exception_id: str
    case_id: CaseId
    kind: ExceptionKind
    start_date: date
    end_date: date
    request_id: str | None = Field(
        default=None,
        description="for reg 8(2): the advice request it affects; a missed appointment must name it (reg 8(2)(c))",
    )
    recorded_by: str
    note: str = ""
    limit_impractical: bool = Field(
        default=False,
        description=(
            "the LA's judgement that meeting the time limit is impractical because of this exception "
            "(regs 5(4), 8(2), 10(4), 13(3)); without it the exception is on record but excuses no limit"
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> CaseExceptionRecorded:
        if self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class SharingRestricted(Event):
    """The parent or young person objected to, or the LA restricted, sharing this case with some
    kinds of organisation (UK GDPR Art 21; a restriction agreed under Art 18). The hub withholds
    every later disclosure of the case to them."""

    event_type: ClassVar[str] = "sharing-restricted"
    topic: ClassVar[str] = "ehc.sharing-restrictions.v1"

    restriction_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    withheld_from: list[Agency] = Field(min_length=1)
    reason: str = Field(min_length=1)
    recorded_date: date
    recorded_by: str = Field(min_length=1)


class AdviceSubmitted(Event):
    """F3: an adviser's advice arrived and is matched to its request."""

    event_type: ClassVar[str] = "advice-submitted"
    topic: ClassVar[str] = "ehc.advice-submissions.v1"

    case_id: CaseId
    request_id: str
    advice_kind: AdviceKind
    adviser: Adviser
    submitted_date: date
    summary: str = Field(default="", max_length=20000)
    signed_off_by: Adviser | None = Field(default=None, description="DMO/DCO sign-off for health advice")
    signed_off_date: date | None = None
    attachments: list[str] = Field(default_factory=list, description="URLs or ids of attached documents")


class PanelOutcomeRecorded(Event):
    """F4: the multi-agency panel's outcome (drives the 16- and 20-week clocks)."""

    event_type: ClassVar[str] = "panel-outcome-recorded"
    topic: ClassVar[str] = "ehc.panel-outcomes.v1"

    case_id: CaseId
    la_code: LaCode
    panel_date: date
    outcome: Literal["issue-plan", "not-issue-plan", "more-information"]
    reasons: str = ""
    health_summary: str | None = Field(default=None, description="for the NHS: health provision discussed")
    social_care_summary: str | None = Field(default=None, description="for social care: sections D, H1, H2")
    education_summary: str | None = Field(default=None, description="for education: sections B, F, I")


class PlanSections(Contract):
    """EHC plan sections A to K (reg 12(1), CoP 9.62), each separately identified."""

    a: str | None = None
    b: str | None = None
    c: str | None = None
    d: str | None = None
    e: str | None = None
    f: str | None = None
    g: str | None = None
    h1: str | None = None
    h2: str | None = None
    i: str | None = None
    j: str | None = None
    k: str | None = None
    pfa_outcomes: list[str] = Field(default_factory=list)


class PlanEventKind(StrEnum):
    DRAFTED = "drafted"
    ISSUED = "issued"
    REVIEWED = "reviewed"
    AMENDED = "amended"
    CEASED = "ceased"


class CeaseReason(StrEnum):
    """Why a plan is to cease, coded as the SEN2 return codes them."""

    MOVED_TO_ANOTHER_LA = "moved-to-another-la"
    NEEDS_MET_WITHOUT_PLAN = "needs-met-without-plan"
    OUTCOMES_ACHIEVED = "outcomes-achieved"
    NO_LONGER_WISHES_TO_ENGAGE = "no-longer-wishes-to-engage"
    EMPLOYMENT = "employment"
    HIGHER_EDUCATION = "higher-education"
    REACHED_25 = "reached-25"
    OTHER = "other"


class PlanRecorded(Event):
    """F5: a plan was drafted, issued, reviewed (annual or Year 9), amended after a review (the
    final amended plan, reg 22(3)), or the LA decided to cease it.

    A decision to cease takes effect only once the time to appeal it has passed (CFA s45, regs
    29-31): the plan, its reviews and everything that hangs on it are maintained until then."""

    event_type: ClassVar[str] = "plan-recorded"
    topic: ClassVar[str] = "ehc.plans.v1"

    case_id: CaseId
    la_code: LaCode
    kind: PlanEventKind
    event_date: date
    review_type: Literal["annual", "year-9", "phase-transfer", "early"] | None = None
    sections: PlanSections = Field(default_factory=PlanSections)
    cease_reason: CeaseReason | None = Field(default=None, description="for a decision to cease: why, as SEN2 codes it")

    @model_validator(mode="after")
    def _review_type_only_on_review(self) -> PlanRecorded:
        if (self.kind == PlanEventKind.REVIEWED) != (self.review_type is not None):
            raise ValueError("review_type is required for a review and only for a review")
        return self


class ReviewStep(StrEnum):
    """The steps of one review of a plan (CFA s44, SEND Regs 18-22), each recorded as it happens."""

    SCHEDULED = "scheduled"
    ADVICE_CIRCULATED = "advice-circulated"
    HELD = "held"
    REPORT_SENT = "report-sent"
    DECISION_NOTIFIED = "decision-notified"
    AMENDMENTS_PROPOSED = "amendments-proposed"


class ReviewDecision(StrEnum):
    MAINTAIN = "maintain"
    AMEND = "amend"
    CEASE = "cease"


class ReviewRecorded(Event):
    """One step of a review of a plan: the meeting scheduled (with its invitations and the advice
    asked for), the advice circulated, the meeting held, the report sent, the LA's decision
    notified, the proposed amendments sent. The final amended plan is a ``plan-recorded`` of kind
    ``amended``; a review recorded only by its outcome may still be a ``plan-recorded`` of kind
    ``reviewed``."""

    event_type: ClassVar[str] = "review-recorded"
    topic: ClassVar[str] = "ehc.reviews.v1"

    review_id: str = Field(min_length=1, max_length=128, description="the same on every step of one review")
    case_id: CaseId
    la_code: LaCode
    step: ReviewStep
    step_date: date = Field(description="when this step happened (for scheduled: when the invitations went out)")
    review_type: Literal["annual", "year-9", "phase-transfer", "early"] = "annual"
    meeting_date: date | None = Field(
        default=None, description="scheduled: the meeting's date; held: defaults to step_date"
    )
    invitees: list[OrganisationRef] = Field(
        default_factory=list, description="scheduled: the bodies invited and asked for advice (reg 20(2), 21(2))"
    )
    decision: ReviewDecision | None = Field(default=None, description="decision-notified: maintain, amend or cease")
    pfa_considered: bool | None = Field(
        default=None,
        description="held: whether preparing for adulthood was considered (required from Year 9, reg 21(6))",
    )

    @model_validator(mode="after")
    def _step_fields(self) -> ReviewRecorded:
        if self.step == ReviewStep.SCHEDULED and self.meeting_date is None:
            raise ValueError("a scheduled review needs its meeting_date")
        if self.step == ReviewStep.SCHEDULED and self.meeting_date is not None and self.meeting_date < self.step_date:
            raise ValueError("meeting_date is before the invitations went out")
        if (self.step == ReviewStep.DECISION_NOTIFIED) != (self.decision is not None):
            raise ValueError("decision is required for decision-notified and only there")
        return self

    def meeting(self) -> date | None:
        return self.meeting_date or (self.step_date if self.step == ReviewStep.HELD else None)


class TransferKind(StrEnum):
    """The kinds of move reg 18 sets a deadline for."""

    SCHOOL_PHASE = "school-phase"
    SECONDARY_TO_POST_16 = "secondary-to-post-16"
    POST_16_TO_POST_16 = "post-16-to-post-16"


class PhaseTransferRecorded(Event):
    """A move between phases of education (reg 18) that the LA records: one the date of birth
    does not predict (a post-16 to post-16 move, a special school's own phases), or the next
    institution named for any move, which then receives the plan as the current school does."""

    event_type: ClassVar[str] = "phase-transfer-recorded"
    topic: ClassVar[str] = "ehc.reviews.v1"

    transfer_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    transfer_kind: TransferKind
    transfer_date: date = Field(description="when the young person moves")
    next_institution: OrganisationRef | None = Field(default=None, description="the school or college they move to")


class LaTransferRecorded(Event):
    """A young person with a plan moves to another council's area (reg 15): the old council learns
    of the move (``aware``) and transfers the plan (``transferred``), from when the new council
    maintains it; the new council tells the family (``new-la-notified``). ``la_code`` is the
    council recording the step."""

    event_type: ClassVar[str] = "la-transfer-recorded"
    topic: ClassVar[str] = "ehc.reviews.v1"

    transfer_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    new_la_code: LaCode
    step: Literal["aware", "transferred", "new-la-notified"]
    step_date: date
    move_date: date | None = Field(default=None, description="aware, transferred: the day of the move")

    @model_validator(mode="after")
    def _step_fields(self) -> LaTransferRecorded:
        if self.step in ("aware", "transferred") and self.move_date is None:
            raise ValueError(f"{self.step} needs the move_date")
        if self.new_la_code == self.la_code and self.step != "new-la-notified":
            raise ValueError("the new council is another council")
        if self.step == "new-la-notified" and self.la_code != self.new_la_code:
            raise ValueError("the new council records its notice to the family")
        return self


class ReassessmentRecorded(Event):
    """A request to reassess the plan's needs (CFA s44(2), regs 23-27) and the LA's decision.

    A decision to reassess asks for the advice again (reg 26 applies regs 6-10), and the plan is
    then amended or replaced (a ``plan-recorded`` of kind ``amended``, or its notice)."""

    event_type: ClassVar[str] = "reassessment-recorded"
    topic: ClassVar[str] = "ehc.reviews.v1"

    reassessment_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    step: Literal["requested", "decision-notified"]
    step_date: date
    requested_by: Requester | None = Field(default=None, description="requested: who asked")
    decision: Literal["reassess", "not-reassess"] | None = Field(default=None, description="decision-notified")
    advisers: list[OrganisationRef] = Field(default_factory=list, description="reassess: whom to ask for advice")

    @model_validator(mode="after")
    def _decision_on_notice(self) -> ReassessmentRecorded:
        if (self.step == "decision-notified") != (self.decision is not None):
            raise ValueError("decision is required for decision-notified and only there")
        return self


class AppealSubject(StrEnum):
    """What a mediation or appeal is about, by the right of appeal in CFA s51(2)."""

    REFUSAL_TO_ASSESS = "refusal-to-assess"  # s51(2)(a)
    REFUSAL_TO_ISSUE = "refusal-to-issue"  # s51(2)(b)
    PLAN_CONTENTS = "plan-contents"  # s51(2)(c)(i), (ii)
    NAMED_INSTITUTION = "named-institution"  # s51(2)(c)(iii)
    REFUSAL_TO_REASSESS = "refusal-to-reassess"  # s51(2)(d)
    REFUSAL_TO_AMEND = "refusal-to-amend"  # s51(2)(e)
    CEASE = "cease"  # s51(2)(f)


class AppealStep(StrEnum):
    MEDIATION_REQUESTED = "mediation-requested"
    MEDIATION_CERTIFICATE = "mediation-certificate-issued"
    APPEAL_REGISTERED = "appeal-registered"
    CONCEDED = "conceded"
    ORDER_MADE = "order-made"
    COMPLIED = "complied"
    CONCLUDED = "concluded"


class AppealRecorded(Event):
    """Mediation and appeals to the First-tier Tribunal (SEND): a step of one dispute.

    ``conceded`` is the day the LA told the Tribunal it will not oppose (reg 45, as substituted by
    SI 2015/359), from which the unopposed-appeal limits run; ``order-made`` carries the date the
    order must be complied with; ``complied`` records what the LA did, and when."""

    event_type: ClassVar[str] = "appeal-recorded"
    topic: ClassVar[str] = "ehc.appeals.v1"

    appeal_id: str = Field(min_length=1, max_length=128, description="the same on every step of one dispute")
    case_id: CaseId
    la_code: LaCode
    step: AppealStep
    step_date: date
    subject: AppealSubject
    order_due_date: date | None = Field(default=None, description="order-made: when the order must be complied with")
    complied_with: (
        Literal["assessment-notice", "not-to-issue-notice", "draft-plan", "final-plan", "amended-plan", "order"] | None
    ) = Field(default=None, description="complied: which limit the LA met")

    @model_validator(mode="after")
    def _step_fields(self) -> AppealRecorded:
        if (self.step == AppealStep.ORDER_MADE) != (self.order_due_date is not None):
            raise ValueError("order_due_date is required for order-made and only there")
        if (self.step == AppealStep.COMPLIED) != (self.complied_with is not None):
            raise ValueError("complied_with is required for complied and only there")
        return self


class PersonalBudgetRecorded(Event):
    """A request for a personal budget (CFA s49, SI 2014/1652), made when the plan is drafted,
    reviewed or reassessed, and the LA's decision on it."""

    event_type: ClassVar[str] = "personal-budget-recorded"
    topic: ClassVar[str] = "ehc.reviews.v1"

    budget_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    step: Literal["requested", "decided"]
    step_date: date
    requested_at: Literal["draft", "review", "reassessment"] | None = Field(default=None, description="requested")
    decision: Literal["agreed", "refused"] | None = Field(default=None, description="decided")
    direct_payments: bool | None = Field(default=None, description="decided: paid as direct payments")
    reasons: str | None = Field(default=None, description="decided: why, required for a refusal")

    @model_validator(mode="after")
    def _step_fields(self) -> PersonalBudgetRecorded:
        if (self.step == "requested") != (self.requested_at is not None):
            raise ValueError("requested_at is required for requested and only there")
        if (self.step == "decided") != (self.decision is not None):
            raise ValueError("decision is required for decided and only there")
        if self.decision == "refused" and not self.reasons:
            raise ValueError("a refusal gives its reasons")
        return self


class NoticeKind(StrEnum):
    """Statutory notices to the parent or young person. Each limit is met by the notice, not by the
    decision behind it (regs 4(1), 5(1), 10(1), 13(2))."""

    DECISION_TO_ASSESS = "decision-to-assess"
    DECISION_NOT_TO_ASSESS = "decision-not-to-assess"
    NOT_TO_ISSUE = "not-to-issue"
    DRAFT_PLAN = "draft-plan"
    FINAL_PLAN = "final-plan"
    AMENDED_PLAN = "amended-plan"
    NO_AMENDMENT = "no-amendment"
    CEASE = "cease"


APPEALABLE_NOTICES = frozenset(
    {
        NoticeKind.DECISION_NOT_TO_ASSESS,
        NoticeKind.NOT_TO_ISSUE,
        NoticeKind.FINAL_PLAN,
        NoticeKind.AMENDED_PLAN,
        NoticeKind.NO_AMENDMENT,
        NoticeKind.CEASE,
    }
)


class NoticeIssued(Event):
    """A statutory notice sent to the parent or young person: the event that stops a clock."""

    event_type: ClassVar[str] = "notice-issued"
    topic: ClassVar[str] = "ehc.notices.v1"

    notice_id: str = Field(min_length=1, max_length=128)
    case_id: CaseId
    la_code: LaCode
    notice: NoticeKind
    sent_date: date
    served_date: date | None = Field(
        default=None, description="when it is taken to reach them (a draft plan's 15 days run from this); else sent"
    )
    recipients: list[Literal["parent", "young-person"]] = Field(min_length=1)
    appeal_information: bool = Field(
        default=False, description="carries the reg 32 information about appealing to the Tribunal"
    )
    mediation_information: bool = Field(default=False, description="carries the reg 32 information about mediation")

    @model_validator(mode="after")
    def _served_after_sent(self) -> NoticeIssued:
        if self.served_date is not None and self.served_date < self.sent_date:
            raise ValueError("served_date is before sent_date")
        return self

    def served(self) -> date:
        return self.served_date or self.sent_date


class CareAssessmentType(StrEnum):
    CHILDS_NEEDS_S58 = "s58-childs-needs"
    CHILDS_CARERS_S60 = "s60-childs-carers"
    YOUNG_CARERS_S63 = "s63-young-carers"


class CareAssessmentRecorded(Event):
    """F6: a Care Act transition assessment recorded by children's services."""

    event_type: ClassVar[str] = "care-assessment-recorded"
    topic: ClassVar[str] = "care.transition-assessments.v1"
    key_field: ClassVar[str] = "assessment_id"

    assessment_id: str
    la_code: LaCode
    assessment_type: CareAssessmentType
    assessed_person: PersonRef = Field(description="the person whose needs were assessed (child, carer or young carer)")
    cared_for: list[PersonRef] = Field(default_factory=list, description="for carers: each person cared for")
    status: Literal["completed", "refused"]
    completed_date: date
    assessor: Adviser
    eligibility_indication: Literal["likely-eligible", "likely-not-eligible", "not-determined"] = "not-determined"
    material_change_flags: list[str] = Field(default_factory=list)


class ReuseRecommendation(StrEnum):
    REUSE = "reuse"
    REVIEW = "review"
    REASSESS = "reassess"


class OfferedAssessment(Contract):
    assessment_id: str
    assessment_type: CareAssessmentType
    completed_date: date
    assessor: Adviser
    eligibility_indication: str
    changes_since: list[str] = Field(default_factory=list)
    recommendation: ReuseRecommendation
    recommendation_reason: str
    assessed_person: PersonRef | None = Field(default=None, description="the carer, for a carer's assessment")
    cared_for: PersonRef | None = Field(
        default=None, description="for a parent carer's assessment (s60): the young person cared for"
    )
    client_type: Literal["Service User", "Carer"] | None = Field(default=None, description="CLD client type")
    status: Literal["completed", "refused"] = Field(
        default="completed", description="a refusal is offered only when circumstances changed since (s60(3))"
    )
    assessed_by_la: LaCode | None = Field(
        default=None, description="the council whose children's services did the assessment"
    )
    review_from: date | None = Field(
        default=None, description="from this day the recommendation is at least review, on age alone"
    )
    reassess_from: date | None = Field(default=None, description="from this day the recommendation is reassess")


class TransitionReferralIssued(Event):
    """F7: a transition referral to adult social care ahead of the 18th birthday."""

    event_type: ClassVar[str] = "transition-referral-issued"
    topic: ClassVar[str] = "care.transition-referrals.v1"
    key_field: ClassVar[str] = "referral_id"

    referral_id: str
    la_code: LaCode
    person: PersonRef
    eighteenth_birthday: date
    case_id: CaseId | None = None
    issued_date: date | None = None
    reasons: list[str] = Field(default_factory=list, description="why adult needs are likely: ehc-plan, s58, ...")
    plan_sections: PlanSections | None = Field(default=None, description="only D, H1, H2, E and PfA outcomes")
    plan_extract_ground: str | None = Field(
        default=None, description="the lawful ground on which the plan extracts are shared (sent with them)"
    )
    offered_assessments: list[OfferedAssessment] = Field(default_factory=list)


class TransitionReferralUpdated(Event):
    """F7, updated: an assessment recorded after a referral was issued is offered to the adult
    service too, with the same reuse recommendation, for as long as it has not settled the case."""

    event_type: ClassVar[str] = "transition-referral-updated"
    topic: ClassVar[str] = "care.transition-referrals.v1"
    key_field: ClassVar[str] = "referral_id"

    referral_id: str
    la_code: LaCode
    updated_date: date
    offered_assessments: list[OfferedAssessment] = Field(min_length=1, description="only those not offered before")


CorrectableField = Literal["given_name", "family_name", "date_of_birth"]


class PersonDetailsCorrected(Event):
    """A person's details were wrong and are corrected at source (UK GDPR Art. 16). The hub
    corrects its records and tells every organisation it sent a wrong value (Art. 19), with no
    more of the person than that organisation was sent before."""

    event_type: ClassVar[str] = "person-details-corrected"
    topic: ClassVar[str] = "ehc.person-corrections.v1"
    key_field: ClassVar[str] = "correction_id"

    correction_id: str = Field(min_length=1, max_length=128)
    la_code: LaCode
    person: PersonRef = Field(description="the person, named by identifiers the hub holds, with the corrected details")
    corrected_fields: list[CorrectableField] = Field(min_length=1, description="which details were wrong")
    corrected_date: date
    reason: str = Field(min_length=1, max_length=2000, description="what was wrong; kept out of logs")

    @model_validator(mode="after")
    def _values_given(self) -> PersonDetailsCorrected:
        missing = [f for f in self.corrected_fields if getattr(self.person, f) is None]
        if missing:
            raise ValueError(f"person must give the corrected {', '.join(missing)}")
        return self


class ChangeOfCircumstancesRecorded(Event):
    """F6: a change in a young person's or carer's circumstances, which bears on reusing an assessment."""

    event_type: ClassVar[str] = "change-of-circumstances-recorded"
    topic: ClassVar[str] = "care.circumstance-changes.v1"
    key_field: ClassVar[str] = "change_id"

    change_id: str
    la_code: LaCode
    person: PersonRef
    change_date: date
    description: str = Field(min_length=1, description="what changed; kept out of logs")
    recorded_by: str


class TransitionNeedDetermined(Event):
    """Children's services' judgement under Care Act s58(1) or s63(1): whether the young person is
    likely to have needs for care and support after 18, and whether assessing them now would be of
    significant benefit, with the footing it proceeds on (s58(2)-(3), s63(3)-(5)). A proceeding
    determination is the lawful reason for a transition referral; a refusal carries its reasons."""

    event_type: ClassVar[str] = "transition-need-determined"
    topic: ClassVar[str] = "care.transition-needs.v1"
    key_field: ClassVar[str] = "determination_id"

    determination_id: str = Field(min_length=1, max_length=128)
    la_code: LaCode
    person: PersonRef
    determined_date: date
    likely_need: bool
    significant_benefit: bool
    consent: Literal["given", "refused", "best-interests", "abuse-or-neglect"] = Field(
        description="given; refused; the young person lacks capacity (or the child competence) and it is in their "
        "best interests; or it proceeds despite refusal because of a risk of abuse or neglect"
    )
    reasons: str = Field(default="", description="written reasons, required when the assessment does not proceed")
    decided_by: str = Field(min_length=1)
    childrens_services: list[Literal["s17-children-act-1989", "s2-csdpa-1970"]] = Field(
        default_factory=list, description="services received now: Care Act s66 continuity applies to these at 18"
    )
    advocacy_considered: bool = Field(default=False, description="s67: independent advocacy considered")

    @model_validator(mode="after")
    def _reasons_for_refusal(self) -> TransitionNeedDetermined:
        if not self.proceeds() and not self.reasons.strip():
            raise ValueError("a decision not to assess needs written reasons (s58(4), s63(6))")
        return self

    def proceeds(self) -> bool:
        return self.likely_need and self.significant_benefit and self.consent != "refused"


class TransitionReferralAcknowledged(Event):
    """F7 back: the adult service received the referral and opened its own record."""

    event_type: ClassVar[str] = "transition-referral-acknowledged"
    topic: ClassVar[str] = "care.transition-acks.v1"
    key_field: ClassVar[str] = "referral_id"

    referral_id: str
    adult_case_id: str
    acknowledged_date: date
    support_in_place_date: date | None = Field(
        default=None, description="when adult care and support is in place; until then s66 continuity applies"
    )
    no_eligible_needs_date: date | None = Field(
        default=None, description="when the adult service determined there are no eligible needs; s66 ends then too"
    )


class CareAssessmentRequested(Event):
    """A new Care Act assessment is needed because an earlier one cannot be treated as the adult one."""

    event_type: ClassVar[str] = "care-assessment-requested"
    topic: ClassVar[str] = "care.assessment-requests.v1"
    key_field: ClassVar[str] = "request_id"

    request_id: str
    referral_id: str
    la_code: LaCode
    assessment_type: Literal["s9-needs", "s10-carers", "s58-childs-needs", "s60-childs-carers", "s63-young-carers"] = (
        Field(description="s58, s60 or s63 before the young person is 18; s9 or s10 from then (Care Act ss58-64)")
    )
    person: PersonRef
    cared_for: PersonRef | None = Field(
        default=None, description="for a carer's assessment (s60, s63, s10): the person cared for"
    )
    replaces_assessment_id: str | None = None
    reason: str


class TreatAsAdultAssessmentDecision(Event):
    """F7 back: the adult service's recorded decision to treat a transition assessment as its own."""

    event_type: ClassVar[str] = "treat-as-adult-assessment-decision"
    topic: ClassVar[str] = "care.transition-decisions.v1"
    key_field: ClassVar[str] = "referral_id"

    referral_id: str
    assessment_id: str
    accepted: bool
    reason: str = Field(min_length=1)
    decided_by: str
    decision_date: date


class AlertRaised(Event):
    """F8: a statutory deadline approaching or breached, or a data-quality problem."""

    event_type: ClassVar[str] = "alert-raised"
    topic: ClassVar[str] = "hub.alerts.v1"

    alert_id: str
    case_id: CaseId
    kind: str
    severity: Literal["info", "warning", "breach", "data-quality"]
    message: str
    due_date: date | None = None
    organisation: OrganisationRef | None = None


class RecordDisclosed(Event):
    """F8: personal data was disclosed to an agency (who, what, to whom, lawful basis, when)."""

    event_type: ClassVar[str] = "record-disclosed"
    topic: ClassVar[str] = "hub.audit.v1"

    audit_id: str
    case_id: CaseId
    source_event_id: str
    recipient: str
    fields: list[str]
    lawful_basis: str


class Disclosure(Contract):
    """One organisation an event was disclosed to: which of its fields, under which lawful basis."""

    recipient: str = Field(description="agency, or agency:code of the organisation")
    fields: list[str] = Field(description='the fields of the event it was sent; ["*"] for all of them')
    lawful_basis: str


class RecordDisclosedV2(Event):
    """F8, version 2: one record per disclosed event, naming every organisation it went to.

    Version 1 wrote a record per recipient, three for most events: as many audit writes as copies.
    The disclosures of one event are made together and audited together; the hub writes version 1
    as well only where ``HUB_AUDIT__ALSO_V1`` is set, for consumers still moving."""

    event_type: ClassVar[str] = "record-disclosed"
    version: ClassVar[int] = 2
    topic: ClassVar[str] = "hub.audit.v2"

    audit_id: str
    case_id: CaseId
    source_event_id: str
    disclosures: list[Disclosure] = Field(min_length=1)


INBOUND_EVENTS: tuple[type[Event], ...] = (
    AssessmentRequested,
    AssessmentDecisionMade,
    AdviceRequestReceived,
    AdviceRequestStatusChanged,
    CaseExceptionRecorded,
    AdviceSubmitted,
    PanelOutcomeRecorded,
    PlanRecorded,
    ReviewRecorded,
    PhaseTransferRecorded,
    ReassessmentRecorded,
    AppealRecorded,
    PersonalBudgetRecorded,
    LaTransferRecorded,
    NoticeIssued,
    SharingRestricted,
    CareAssessmentRecorded,
    TransitionNeedDetermined,
    TransitionReferralIssued,
    TransitionReferralUpdated,
    TreatAsAdultAssessmentDecision,
    ChangeOfCircumstancesRecorded,
    TransitionReferralAcknowledged,
    PersonDetailsCorrected,
)
ALL_EVENTS: tuple[type[Event], ...] = (
    *INBOUND_EVENTS,
    AdviceRequested,
    CareAssessmentRequested,
    AlertRaised,
    RecordDisclosed,
    RecordDisclosedV2,
)
EVENTS_BY_TYPE: dict[str, type[Event]] = {e.cloudevent_type(): e for e in ALL_EVENTS}
