"""The transition planner: who should be referred to adult social care, and what to offer them.

It finds young people approaching 18 who are likely to need adult care and support (an EHC plan,
a s58 child's needs assessment, or children's social care involvement) and issues one referral
each, offering every Care Act assessment on record that could be treated as the adult one: their
own s58 or s63, and each carer's s60, found through the carer (so a carer of two young people is
offered in both). Each offer carries a reuse recommendation computed from when the assessment was
done and whether circumstances changed since, the two things the adult service must have regard to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from statistics import median

from hub.domain.clocks import add_months
from hub.domain.ids import derived_id
from hub.domain.state import CareAssessment, Case, TransitionSources
from hub.domain.transitions import eighteenth_birthday, recommend
from hub.settings import TransitionRules
from schemas.common import Agency, OrganisationRef, PersonRef
from schemas.events import (
    AlertRaised,
    OfferedAssessment,
    PlanSections,
    ReuseRecommendation,
    TransitionReferralIssued,
)

ADULT_SECTIONS = ("d", "h1", "h2", "e", "pfa_outcomes")


@dataclass
class Candidate:
    person_key: str
    person: PersonRef
    la_code: str
    reasons: set[str] = field(default_factory=set)
    case: Case | None = None


def plan_referrals(sources: TransitionSources, today: date, rules: TransitionRules) -> list[TransitionReferralIssued]:
    """Referrals due today that have not been issued, built from what the store knows."""
    candidates: dict[str, Candidate] = {}

    def consider(key: str | None, person: PersonRef | None, la: str | None, reason: str, case: Case | None) -> None:
        if not key or person is None or la is None:
            return
        c = candidates.setdefault(key, Candidate(key, person, la))
        c.reasons.add(reason)
        if case is not None:
            c.case = case
        if c.person.date_of_birth is None and person.date_of_birth is not None:
            c.person = person

    for case in sources.cases:
        if case.final_plan_date:
            consider(case.person_key, case.person, case.la_code, "ehc-plan", case)
        if case.case_id in sources.csc_case_ids:
            consider(case.person_key, case.person, case.la_code, "childrens-social-care", case)
    for a in sources.assessments:
        if a.status != "completed":
            continue
        if a.assessment_type == "s58-childs-needs":
            consider(a.assessed_key, a.assessed_person, a.la_code, "s58", None)
        elif a.assessment_type == "s63-young-carers":  # a young carer known to children's services
            consider(a.assessed_key, a.assessed_person, a.la_code, "childrens-social-care", None)
    referred = {r.person_key for r in sources.referrals}
    out = []
    for c in sorted(candidates.values(), key=lambda c: c.person_key):
        dob = c.person.date_of_birth
        if c.person_key in referred or dob is None or not referral_due(dob, today, rules):
            continue
        out.append(build_referral(c, eighteenth_birthday(dob), sources, today, rules))
    return out


def referral_due(date_of_birth: date, today: date, rules: TransitionRules) -> bool:
    """Whether a referral for someone born on this day is due (lead months before their 18th birthday)."""
    return today >= add_months(eighteenth_birthday(date_of_birth), -rules.lead_months)


def may_need_referral(case: Case, today: date, rules: TransitionRules) -> bool:
    """The planner's filter on open cases, applied while the store streams them: a case whose person
    is not yet near 18 cannot give rise to a referral today, so it need not be held in memory.
    Without a date of birth on the case it is kept, as another source may supply one."""
    dob = case.person.date_of_birth if case.person else None
    return dob is None or referral_due(dob, today, rules)


def build_referral(
    c: Candidate, birthday: date, sources: TransitionSources, today: date, rules: TransitionRules
) -> TransitionReferralIssued:
    latest: dict[tuple[str, str | None], CareAssessment] = {}
    for a in sources.assessments:
        own = a.assessed_key == c.person_key and a.assessment_type in ("s58-childs-needs", "s63-young-carers")
        carer = a.assessment_type == "s60-childs-carers" and c.person_key in a.cared_for_keys
        if not (own or carer):
            continue
        slot = (a.assessment_type, a.assessed_key)
        if slot not in latest or a.completed_date > latest[slot].completed_date:
            latest[slot] = a
    offers: list[OfferedAssessment] = []
    for a in sorted(latest.values(), key=lambda a: a.assessment_id):
        changes = [
            *a.material_change_flags,
            *(
                f"{ch.change_date}: {ch.description}"
                for ch in sources.changes
                if ch.person_key in (a.assessed_key, c.person_key) and ch.change_date > a.completed_date
            ),
        ]
        if a.status == "refused":
            if not changes:
                continue  # s60(3): a carer who refused is not pressed again without a change
            recommendation, reason = ReuseRecommendation.REASSESS, "refused before; circumstances changed since"
        else:
            recommendation, reason = recommend(a.completed_date, changes, today, rules)
        carer_kind = a.assessment_type in ("s60-childs-carers", "s63-young-carers")
        offers.append(
            OfferedAssessment(
                assessment_id=a.assessment_id,
                assessment_type=a.assessment_type,
                completed_date=a.completed_date,
                assessor=a.assessor,
                eligibility_indication=a.eligibility,
                changes_since=changes,
                recommendation=recommendation,
                recommendation_reason=reason,
                assessed_person=a.assessed_person,
                client_type="Carer" if carer_kind else "Service User",
                status=a.status,
            )
        )
    sections = None
    if c.case is not None and c.case.plan_sections is not None:
        sections = PlanSections.model_validate(c.case.plan_sections.model_dump(include=set(ADULT_SECTIONS)))
    return TransitionReferralIssued(
        referral_id=derived_id(c.person_key, "transition-referral"),
        la_code=c.la_code,
        person=c.person,
        eighteenth_birthday=birthday,
        case_id=c.case.case_id if c.case else None,
        issued_date=today,
        reasons=sorted(c.reasons),
        plan_sections=sections,
        offered_assessments=offers,
    )


def continuity_alerts(sources: TransitionSources, today: date) -> list[AlertRaised]:
    """s66: at 18, until adult support is in place, children's services are told to continue."""
    return [
        AlertRaised(
            alert_id=derived_id(r.referral_id, "s66-continue"),
            case_id=r.referral_id,
            kind="s66-continue-childrens-services",
            severity="info",
            message="turned 18 without adult support in place: continue children's services (Care Act s66)",
            due_date=r.eighteenth_birthday,
            organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=r.la_code),
        )
        for r in sources.referrals
        if r.eighteenth_birthday <= today and r.support_in_place_date is None
    ]


@dataclass
class TransitionMeasures:
    """One LA's transition figures: assessments reused, assessments re-done, median days from
    referral to the adult service's first decision."""

    reused: int = 0
    redone: int = 0
    referrals: int = 0
    median_days_to_adult_decision: float | None = None


def measures(sources: TransitionSources) -> dict[str, TransitionMeasures]:
    """Transition figures per LA."""
    by_referral = {r.referral_id: r for r in sources.referrals}
    out: dict[str, TransitionMeasures] = {}
    first_decision: dict[str, date] = {}
    for d in sources.decisions:
        referral = by_referral.get(d.referral_id)
        if referral is None:
            continue
        m = out.setdefault(referral.la_code, TransitionMeasures())
        if d.accepted:
            m.reused += 1
        else:
            m.redone += 1
        prior = first_decision.get(d.referral_id)
        first_decision[d.referral_id] = min(prior, d.decision_date) if prior else d.decision_date
    for r in sources.referrals:
        out.setdefault(r.la_code, TransitionMeasures()).referrals += 1
    for la, m in out.items():
        days = [
            (first_decision[rid] - r.issued_date).days
            for rid, r in by_referral.items()
            if r.la_code == la and rid in first_decision
        ]
        m.median_days_to_adult_decision = median(days) if days else None
    return out
