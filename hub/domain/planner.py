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
from datetime import date, timedelta
from statistics import median

from hub.domain.clocks import add_months
from hub.domain.ids import derived_id
from hub.domain.state import CareAssessment, Case, TransitionDetermination, TransitionSources
from hub.domain.transitions import eighteenth_birthday, first_day_over, recommend
from hub.settings import TransitionRules
from schemas.common import Agency, OrganisationRef, PersonRef
from schemas.events import (
    AlertRaised,
    OfferedAssessment,
    PlanSections,
    ReuseRecommendation,
    TransitionReferralIssued,
    TransitionReferralUpdated,
)

ADULT_SECTIONS = ("d", "h1", "h2", "e", "pfa_outcomes")
OWN_TYPES = ("s58-childs-needs", "s63-young-carers")


@dataclass
class Candidate:
    person_key: str
    person: PersonRef
    la_code: str
    reasons: set[str] = field(default_factory=set)
    case: Case | None = None


def latest_determinations(sources: TransitionSources) -> dict[str, TransitionDetermination]:
    """Each young person's latest s58(1)/s63(1) determination, by person key."""
    latest: dict[str, TransitionDetermination] = {}
    for d in sorted(sources.determinations, key=lambda d: (d.determined_date, d.determination_id)):
        if d.person_key:
            latest[d.person_key] = d
    return latest


def may_be_referred(sources: TransitionSources) -> set[str]:
    """The people ``plan_referrals`` may refer: those with a determination or a Care Act assessment
    on record. Only their cases matter to it, so only theirs need be held for it."""
    return {d.person_key for d in sources.determinations if d.person_key} | {
        a.assessed_key for a in sources.assessments if a.assessed_key
    }


def plan_referrals(sources: TransitionSources, today: date, rules: TransitionRules) -> list[TransitionReferralIssued]:
    """Referrals due today that have not been issued, built from what the store knows.

    A referral needs a reason in law (Care Act s58(1), s63(1)): children's services determined that
    needs for care and support after 18 are likely and that assessing would be of significant
    benefit, or a completed s58 or s63 assessment indicates likely eligible needs. An EHC plan or
    social care involvement alone is not that reason: it asks children's services to consider
    (``consideration_alerts``), and a plan's adult sections travel with a referral made on a
    lawful reason. A later determination not to proceed stands over an earlier assessment."""
    latest = latest_determinations(sources)
    candidates: dict[str, Candidate] = {}

    def consider(key: str | None, person: PersonRef, la: str, reason: str) -> None:
        if not key or (key in latest and not latest[key].proceeds):
            return
        c = candidates.setdefault(key, Candidate(key, person, la))
        c.reasons.add(reason)
        if c.person.date_of_birth is None and person.date_of_birth is not None:
            c.person = person

    for d in latest.values():
        if d.proceeds:
            consider(d.person_key, d.person, d.la_code, "likely-need-determined")
    for a in sources.assessments:
        if a.status == "completed" and a.eligibility == "likely-eligible" and a.assessment_type in OWN_TYPES:
            consider(a.assessed_key, a.assessed_person, a.la_code, f"{a.assessment_type.split('-')[0]}-likely-eligible")
    plans = {c.person_key: c for c in sources.cases if c.final_plan_date and c.person_key}
    referred = {r.person_key for r in sources.referrals}
    out = []
    for c in sorted(candidates.values(), key=lambda c: c.person_key):
        c.case = plans.get(c.person_key)
        if c.case is not None:
            c.reasons.add("ehc-plan")
            if c.person.date_of_birth is None and c.case.person is not None:
                c.person = c.case.person
        dob = c.person.date_of_birth
        if c.person_key in referred or dob is None or not referral_due(dob, today, rules):
            continue
        out.append(build_referral(c, eighteenth_birthday(dob), sources, today, rules))
    return out


def consideration_alerts(sources: TransitionSources, today: date, rules: TransitionRules) -> list[AlertRaised]:
    """Young people with an EHC plan or social care involvement, aged at least
    ``rules.consider_at_age``, of whom children's services have recorded neither a determination nor
    an s58 or s63 assessment: children's services are asked to consider whether they are likely to
    need care and support after 18 (s58(1))."""
    known = {d.person_key for d in sources.determinations} | {
        a.assessed_key for a in sources.assessments if a.assessment_type in OWN_TYPES
    }
    alerts: dict[str, AlertRaised] = {}
    for case in sources.cases:
        dob = case.person.date_of_birth if case.person else None
        involved = case.final_plan_date is not None or case.case_id in sources.csc_case_ids
        if not involved or not case.person_key or case.person_key in known or dob is None or not case.la_code:
            continue
        if today < add_months(dob, rules.consider_at_age * 12):
            continue
        alerts.setdefault(
            case.person_key,
            AlertRaised(
                alert_id=derived_id(case.person_key, "consider-transition"),
                case_id=case.case_id,
                kind="transition-consideration-due",
                severity="info",
                organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=case.la_code),
                due_date=add_months(eighteenth_birthday(dob), -rules.lead_months),
                message=f"aged {rules.consider_at_age} or over with no transition determination: consider whether "
                "they are likely to need care and support after 18 (Care Act s58(1))",
            ),
        )
    return list(alerts.values())


def telling_them(referral: TransitionReferralIssued) -> AlertRaised:
    """Children's services are asked to tell the young person that they were referred, why, and what
    was shared with the adult service (UK GDPR Art 14): the referral is about them, and most of it
    came from their plan and assessments rather than from them."""
    shared = ["their details", *(["plan sections D, H1, H2, E and PfA outcomes"] if referral.plan_sections else [])]
    offered = len(referral.offered_assessments)
    if offered:
        shared.append(f"{offered} earlier assessment(s)")
    why = ", ".join(referral.reasons) or "no reason given"
    return AlertRaised(
        alert_id=derived_id(referral.referral_id, "tell-the-young-person"),
        case_id=referral.referral_id,
        kind="tell-the-young-person",
        severity="info",
        organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=referral.la_code),
        due_date=referral.issued_date,
        message=f"referral {referral.referral_id} went to adult social care ({why}); tell the young person, "
        f"and say what was shared: {', '.join(shared)}",
    )


def referral_due(date_of_birth: date, today: date, rules: TransitionRules) -> bool:
    """Whether a referral for someone born on this day is due (lead months before their 18th birthday)."""
    return today >= add_months(eighteenth_birthday(date_of_birth), -rules.lead_months)


def may_need_referral(case: Case, today: date, rules: TransitionRules) -> bool:
    """The planner's filter on open cases, applied while the store streams them: a case whose person
    is too young to be considered or referred today need not be held in memory. Without a date of
    birth on the case it is kept, as another source may supply one."""
    dob = case.person.date_of_birth if case.person else None
    if dob is None:
        return True
    return today >= add_months(dob, min(rules.consider_at_age * 12, 18 * 12 - rules.lead_months))


def build_referral(
    c: Candidate, birthday: date, sources: TransitionSources, today: date, rules: TransitionRules
) -> TransitionReferralIssued:
    offers = offers_for(c.person_key, c.person, sources, today, rules)
    sections = None
    ground = rules.plan_extract_ground  # a plan is shared only on a ground recorded with it (reg 17)
    if ground and c.case is not None and c.case.plan_sections is not None:
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
        plan_extract_ground=ground if sections is not None else None,
        offered_assessments=offers,
    )


def offers_for(
    person_key: str, person: PersonRef | None, sources: TransitionSources, today: date, rules: TransitionRules
) -> list[OfferedAssessment]:
    """The assessments to offer the adult service for one young person: the latest of each kind
    (their own s58 or s63, each parent carer's s60), each with its reuse recommendation."""
    latest: dict[tuple[str, str | None], CareAssessment] = {}
    for a in sources.assessments:
        own = a.assessed_key == person_key and a.assessment_type in ("s58-childs-needs", "s63-young-carers")
        carer = a.assessment_type == "s60-childs-carers" and person_key in a.cared_for_keys
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
                if ch.person_key in (a.assessed_key, person_key) and ch.change_date > a.completed_date
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
                cared_for=person if a.assessment_type == "s60-childs-carers" else None,
                client_type="Carer" if carer_kind else "Service User",
                status=a.status,
                assessed_by_la=a.la_code,
                review_from=first_day_over(a.completed_date, rules.reuse_max_age_months),
                reassess_from=first_day_over(a.completed_date, rules.reassess_after_months),
            )
        )
    return offers


def plan_referral_updates(
    sources: TransitionSources, today: date, rules: TransitionRules
) -> list[TransitionReferralUpdated]:
    """Assessments recorded since a referral was issued, offered on it while the adult service has
    not settled the case (support in place, or no eligible needs): the family is not assessed again
    for want of telling the adult service about an assessment children's services already did."""
    updates = []
    for r in sorted(sources.referrals, key=lambda r: r.referral_id):
        if r.person_key is None or r.support_in_place_date is not None or r.no_eligible_needs_date is not None:
            continue
        offered = {o.assessment_id for o in r.offered}
        person = next((o.cared_for for o in r.offered if o.cared_for is not None), None) or next(
            (a.assessed_person for a in sources.assessments if a.assessed_key == r.person_key), None
        )
        new = [o for o in offers_for(r.person_key, person, sources, today, rules) if o.assessment_id not in offered]
        if new:
            updates.append(
                TransitionReferralUpdated(
                    referral_id=r.referral_id, la_code=r.la_code, updated_date=today, offered_assessments=new
                )
            )
    return updates


def continuity_alerts(sources: TransitionSources, today: date, rules: TransitionRules) -> list[AlertRaised]:
    """s66: a young person receiving children's services under s17 Children Act 1989 or s2 CSDPA
    1970 keeps them after 18 until the adult service's steps are complete: support in place, or a
    determination that there are no eligible needs. Children's services are warned on the birthday,
    and the alert escalates after ``rules.s66_escalate_days`` if nothing has been settled."""
    services = {key: d.childrens_services for key, d in latest_determinations(sources).items()}
    alerts = []
    for r in sources.referrals:
        settled = r.support_in_place_date is not None or r.no_eligible_needs_date is not None
        if settled or not services.get(r.person_key or "") or today < r.eighteenth_birthday:
            continue
        team = OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=r.la_code)
        alerts.append(
            AlertRaised(
                alert_id=derived_id(r.referral_id, "s66-continue"),
                case_id=r.referral_id,
                kind="s66-continue-childrens-services",
                severity="warning",
                message="turned 18 without adult support in place or a finding of no eligible needs: continue "
                "children's services (Care Act s66)",
                due_date=r.eighteenth_birthday,
                organisation=team,
            )
        )
        escalate = r.eighteenth_birthday + timedelta(days=rules.s66_escalate_days)
        if today >= escalate:
            alerts.append(
                AlertRaised(
                    alert_id=derived_id(r.referral_id, "s66-escalated"),
                    case_id=r.referral_id,
                    kind="s66-continuity-unresolved",
                    severity="breach",
                    message=f"{rules.s66_escalate_days} days past 18 and the adult service has not put support in "
                    "place or found no eligible needs (Care Act s66)",
                    due_date=escalate,
                    organisation=team,
                )
            )
    return alerts


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
