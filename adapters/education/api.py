"""REST ingress for LA SEN case-management systems, schools and educational psychologists."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.education.mapping import CSV_KINDS
from adapters.http import add_event_endpoint
from adapters.imports import add_csv_endpoint
from schemas.events import (
    AdviceRequestReceived,
    AdviceSubmitted,
    AppealRecorded,
    AssessmentDecisionMade,
    AssessmentRequested,
    CaseExceptionRecorded,
    LaTransferRecorded,
    NoticeIssued,
    PanelOutcomeRecorded,
    PersonalBudgetRecorded,
    PhaseTransferRecorded,
    PlanRecorded,
    ReassessmentRecorded,
    ReviewRecorded,
    SharingRestricted,
)

router = APIRouter(prefix="/api/v1", tags=["education"])


add_event_endpoint(
    router, "/assessment-requests", AssessmentRequested, "F1: an EHC needs assessment request was received"
)
add_event_endpoint(
    router,
    "/assessment-decisions",
    AssessmentDecisionMade,
    "F2: the LA decided whether to assess; on 'assess' the hub requests the advice",
)
add_event_endpoint(
    router,
    "/advice-receipts",
    AdviceRequestReceived,
    "F2: an adviser's receipt of an advice request, recorded by hand (reg 8's clock runs from receipt)",
)
add_event_endpoint(
    router,
    "/case-exceptions",
    CaseExceptionRecorded,
    "A permitted exception to the time limits (school closure, absence, ...)",
)
add_event_endpoint(router, "/panel-outcomes", PanelOutcomeRecorded, "F4: multi-agency panel outcome")
add_event_endpoint(
    router, "/plans", PlanRecorded, "F5: plan drafted, issued, reviewed (annual, Year 9), amended, or ceased"
)
add_event_endpoint(
    router,
    "/reviews",
    ReviewRecorded,
    "A step of a review of the plan: scheduled (asks the invitees for advice), advice circulated, held, report sent, "
    "decision notified, amendments proposed",
)
add_event_endpoint(
    router,
    "/reassessments",
    ReassessmentRecorded,
    "A request to reassess the plan's needs, and the LA's decision (a decision to reassess asks for the advice again)",
)
add_event_endpoint(
    router,
    "/appeals",
    AppealRecorded,
    "A step of mediation or an appeal to the Tribunal: registered, conceded (the reg 45 limits start), an order, "
    "what the LA did",
)
add_event_endpoint(
    router,
    "/personal-budgets",
    PersonalBudgetRecorded,
    "A request for a personal budget (at a draft plan, review or reassessment) and the LA's decision",
)
add_event_endpoint(
    router,
    "/la-transfers",
    LaTransferRecorded,
    "A plan moving to another council (reg 15): the old council learns of the move and transfers the plan; "
    "the new council records its notice to the family",
)
add_event_endpoint(
    router,
    "/phase-transfers",
    PhaseTransferRecorded,
    "A move between phases of education (reg 18), and the institution it is to, which then receives the plan",
)
add_event_endpoint(
    router,
    "/notices",
    NoticeIssued,
    "A statutory notice sent to the parent or young person (stops the decision, 16- and 20-week clocks)",
)
add_event_endpoint(
    router,
    "/sharing-restrictions",
    SharingRestricted,
    "An objection to (or restriction of) sharing the case with some kinds of organisation: later copies are withheld",
)
add_event_endpoint(router, "/advice", AdviceSubmitted, "F3: advice from a school, setting or educational psychologist")
add_csv_endpoint(router, CSV_KINDS)
