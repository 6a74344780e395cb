"""Which advice to request on a decision to assess (SEND Regs reg 6), and from whom.

Reg 6(1) lists the advice the LA must seek; reg 6(4) says not to seek advice that has already
been given when the adviser, the LA and the parent or young person all agree it is sufficient.
A required kind with no adviser named is not guessed: it is reported, so the LA can name one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.domain.facts import AdviceRequestOpened, Outcome
from hub.domain.ids import derived_id
from hub.domain.judging import Judging
from hub.domain.state import Case
from hub.settings import StatutoryRules
from schemas.common import AdviceKind, Agency, OrganisationRef
from schemas.events import AdviceRequested, AssessmentDecisionMade, ExistingAdviceAgreement

ADVICE_FROM_AGENCY: dict[Agency, AdviceKind] = {
    Agency.SCHOOL: AdviceKind.EDUCATION,
    Agency.EDUCATIONAL_PSYCHOLOGY: AdviceKind.EDUCATIONAL_PSYCHOLOGY,
    Agency.NHS: AdviceKind.HEALTH,
    Agency.CHILDRENS_SOCIAL_CARE: AdviceKind.SOCIAL_CARE,
    Agency.FAMILY: AdviceKind.PARENT_OR_YOUNG_PERSON,
}
ALWAYS_REQUIRED = (
    AdviceKind.PARENT_OR_YOUNG_PERSON,
    AdviceKind.EDUCATION,
    AdviceKind.HEALTH,
    AdviceKind.EDUCATIONAL_PSYCHOLOGY,
    AdviceKind.SOCIAL_CARE,
)


@dataclass(frozen=True)
class AdvicePlan:
    to_request: dict[AdviceKind, OrganisationRef]
    reused: dict[AdviceKind, ExistingAdviceAgreement]
    unassigned: list[AdviceKind]


def curriculum_year(date_of_birth: date, on: date) -> int:
    """The national curriculum year someone born on this day is in (or would be in) on ``on``:
    Reception is 0. A school year runs from 1 September, and its cohort is those born from
    1 September to 31 August, so a child born in March 2010 is in Year 11 in 2025/26."""
    cohort = date_of_birth.year + (date_of_birth.month >= 9)
    school_year_start = on.year - (on.month < 9)
    return school_year_start - cohort - 4


def plan_advice(
    decision: AssessmentDecisionMade, year_group: int | None, rules: StatutoryRules, born: date | None = None
) -> AdvicePlan:
    """What to ask for, and of whom. Preparing-for-adulthood advice is for anyone in or beyond
    Year 9 (reg 6(1)(g)): the year is worked out from the date of birth on the decision date where
    it is known, since a year group recorded at the request goes stale; 19-25-year-olds are
    beyond Year 9 whatever was recorded."""
    sources: dict[AdviceKind, OrganisationRef] = {
        AdviceKind.PARENT_OR_YOUNG_PERSON: OrganisationRef(agency=Agency.FAMILY, code=decision.la_code),
    }
    for org in decision.advisers:
        kind = ADVICE_FROM_AGENCY.get(org.agency)
        if kind is not None:
            sources[kind] = org
    for named in decision.advice_sources:  # explicit naming wins over inference from the agency
        sources[named.advice_kind] = named.organisation
    required = list(ALWAYS_REQUIRED)
    year = curriculum_year(born, decision.decision_date) if born is not None else year_group
    if year is not None and year >= rules.pfa_from_year_group:
        required.append(AdviceKind.PREPARING_FOR_ADULTHOOD)
    required += [k for k in sources if k not in required]
    # reg 6(4) covers (1)(b)-(h): the parent's or young person's own advice is always sought
    sufficient = {
        a.advice_kind: a
        for a in decision.existing_advice
        if a.sufficient and a.advice_kind != AdviceKind.PARENT_OR_YOUNG_PERSON
    }
    to_request: dict[AdviceKind, OrganisationRef] = {}
    reused: dict[AdviceKind, ExistingAdviceAgreement] = {}
    unassigned: list[AdviceKind] = []
    for kind in required:
        if kind in sufficient:
            reused[kind] = sufficient[kind]
        elif kind in sources:
            to_request[kind] = sources[kind]
        else:
            unassigned.append(kind)
    return AdvicePlan(to_request, reused, unassigned)


def add_weeks(start: date, weeks: int) -> date:
    return start + timedelta(weeks=weeks)


def request_advice(decision: AssessmentDecisionMade, case: Case, j: Judging, out: Outcome) -> None:
    """Ask for the advice a decision to assess (or reassess, reg 26) needs; report a required kind
    with no adviser named."""
    assert case.person is not None, "a case with a received date was opened with its person"
    plan = plan_advice(decision, case.year_group, j.rules, case.person.date_of_birth)
    for kind, org in plan.to_request.items():
        request_id = derived_id(j.event_id, f"advice:{kind.value}")
        request = AdviceRequested(
            case_id=decision.case_id,
            request_id=request_id,
            advice_kind=kind,
            recipient=org,
            person=case.person,
            requested_date=decision.decision_date,
            due_date=add_weeks(decision.decision_date, j.rules.advice_weeks),
        )
        out.emitted.append(request)
        out.advice_opened.append(
            AdviceRequestOpened(request_id, decision.case_id, kind.value, org, decision.decision_date, request=request)
        )
    for kind, agreement in plan.reused.items():
        out.advice_opened.append(
            AdviceRequestOpened(
                derived_id(j.event_id, f"reused:{kind.value}"),
                decision.case_id,
                kind.value,
                agreement.adviser.organisation,
                decision.decision_date,
                reused=agreement,
            )
        )
    for kind in plan.unassigned:
        out.emitted.append(
            j.alert(
                f"unassigned:{kind.value}",
                case_id=decision.case_id,
                kind="advice-adviser-missing",
                severity="data-quality",
                message=f"{kind.value} advice is required (reg 6(1)) but no adviser was named",
            )
        )
