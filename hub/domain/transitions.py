"""Transition to adult social care at 18 (Care Act ss58-66), reusing the assessments already done.

The planner finds young people approaching 18 who are likely to need adult care and support (an
EHC plan, a s58 child's needs assessment, or children's social care involvement) and issues one
referral each, offering every Care Act assessment on record that could be treated as the adult
one: their own s58 or s63, and each carer's s60, found through the carer (so a carer of two young
people is offered in both). Each offer carries a reuse recommendation computed from when the
assessment was done and whether circumstances changed since, the two things the adult service must
have regard to. The adult service's decision comes back and is recorded; a rejection asks for
exactly one new assessment, an acceptance closes the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import median
from typing import Any

from hub.domain.clocks import add_months
from hub.domain.facts import RuleViolation, WorkflowOutcome
from hub.domain.ids import derived_id
from hub.settings import TransitionRules
from schemas.common import Adviser, PersonRef
from schemas.events import (
    AlertRaised,
    CareAssessmentRecorded,
    CareAssessmentRequested,
    ChangeOfCircumstancesRecorded,
    Event,
    OfferedAssessment,
    PlanSections,
    ReuseRecommendation,
    TransitionReferralAcknowledged,
    TransitionReferralIssued,
    TreatAsAdultAssessmentDecision,
)

ADULT_SECTIONS = ("d", "h1", "h2", "e", "pfa_outcomes")
CARER_TYPES = ("s60-childs-carers", "s63-young-carers")


def eighteenth_birthday(dob: date) -> date:
    return add_months(dob, 18 * 12)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)


def recommend(
    completed: date, changes: Sequence[str], today: date, rules: TransitionRules
) -> tuple[ReuseRecommendation, str]:
    age = months_between(completed, today)
    if age > rules.reassess_after_months:
        return ReuseRecommendation.REASSESS, f"done {age} months ago (over {rules.reassess_after_months})"
    if changes:
        return ReuseRecommendation.REVIEW, f"circumstances changed since: {'; '.join(changes)}"
    if age > rules.reuse_max_age_months:
        return ReuseRecommendation.REVIEW, f"done {age} months ago (over {rules.reuse_max_age_months})"
    return ReuseRecommendation.REUSE, f"done {age} months ago, no change of circumstances recorded"


# ---- judging transition events (part of the workflow) ----


def evaluate_transition(
    event: Event, context: dict[str, Any] | None, event_id: str, person_keys: list[str | None], out: WorkflowOutcome
) -> None:
    if isinstance(event, CareAssessmentRecorded):
        out.inserts["care_assessments"] = [
            {
                "assessment_id": event.assessment_id,
                "la_code": event.la_code,
                "assessment_type": event.assessment_type.value,
                "assessed_key": person_keys[0] if person_keys else None,
                "assessed_person": event.assessed_person.model_dump(mode="json", exclude_none=True),
                "cared_for_keys": [k for k in person_keys[1:] if k],
                "cared_for": [p.model_dump(mode="json", exclude_none=True) for p in event.cared_for],
                "status": event.status,
                "completed_date": event.completed_date,
                "assessor": event.assessor.model_dump(mode="json", exclude_none=True),
                "eligibility": event.eligibility_indication,
                "material_change_flags": list(event.material_change_flags),
            }
        ]
    elif isinstance(event, ChangeOfCircumstancesRecorded):
        out.inserts["circumstance_changes"] = [
            {
                "change_id": event.change_id,
                "person_key": person_keys[0] if person_keys else None,
                "change_date": event.change_date,
                "description": event.description,
            }
        ]
    elif isinstance(event, TransitionReferralIssued):
        _referral_issued(event, person_keys, out)
    elif isinstance(event, TransitionReferralAcknowledged):
        _require_referral(event.referral_id, context)
        out.referral_updates.append(
            {
                "referral_id": event.referral_id,
                "acknowledged_date": event.acknowledged_date,
                "adult_case_id": event.adult_case_id,
                "support_in_place_date": event.support_in_place_date,
            }
        )
    elif isinstance(event, TreatAsAdultAssessmentDecision):
        _decision(event, _require_referral(event.referral_id, context), event_id, out)


def _require_referral(referral_id: str, context: dict[str, Any] | None) -> dict[str, Any]:
    if context is None or "offered" not in context:
        raise RuleViolation(
            f"no transition referral {referral_id!r} is known",
            field="data.referral_id",
            rule="known-referral",
            retryable=True,
        )
    return context


def _referral_issued(event: TransitionReferralIssued, person_keys: list[str | None], out: WorkflowOutcome) -> None:
    dob = event.person.date_of_birth
    if dob is None:
        raise RuleViolation(
            "a transition referral needs the young person's date of birth",
            field="data.person.date_of_birth",
            rule="dob-required",
        )
    if eighteenth_birthday(dob) != event.eighteenth_birthday:
        raise RuleViolation(
            f"eighteenth_birthday {event.eighteenth_birthday} does not follow from the date of birth",
            field="data.eighteenth_birthday",
            rule="eighteenth-birthday",
        )
    out.inserts["referrals"] = [
        {
            "referral_id": event.referral_id,
            "person_key": person_keys[0] if person_keys else None,
            "la_code": event.la_code,
            "eighteenth_birthday": event.eighteenth_birthday,
            "issued_date": event.issued_date or event.eighteenth_birthday,
            "offered": [o.model_dump(mode="json", exclude_none=True) for o in event.offered_assessments],
            "acknowledged_date": None,
            "adult_case_id": None,
            "support_in_place_date": None,
        }
    ]
    for offer in event.offered_assessments:
        if offer.status == "refused":  # s60(3): the duty revives when circumstances change
            out.emitted.append(
                _new_assessment(
                    event.referral_id,
                    event.la_code,
                    offer,
                    event.person,
                    "the carer refused before; circumstances have changed since",
                )
            )


def _decision(
    event: TreatAsAdultAssessmentDecision, referral: dict[str, Any], event_id: str, out: WorkflowOutcome
) -> None:
    offered = {o["assessment_id"]: o for o in referral["offered"]}
    if event.assessment_id not in offered:
        raise RuleViolation(
            f"assessment {event.assessment_id!r} was not offered in referral {event.referral_id!r}",
            field="data.assessment_id",
            rule="assessment-offered",
        )
    earlier = referral.get("decisions", {}).get(event.assessment_id)
    if earlier and earlier["decision_event_id"] != event_id:
        raise RuleViolation(
            f"a decision on assessment {event.assessment_id!r} was already recorded",
            field="data.assessment_id",
            rule="single-decision",
        )
    out.inserts["assessment_decisions"] = [
        {
            "referral_id": event.referral_id,
            "assessment_id": event.assessment_id,
            "accepted": int(event.accepted),
            "reason": event.reason,
            "decided_by": event.decided_by,
            "decision_date": event.decision_date,
            "decision_event_id": event_id,
        }
    ]
    if not event.accepted:
        offer = OfferedAssessment.model_validate(offered[event.assessment_id])
        person = offer.assessed_person or PersonRef.model_validate(
            {"la_person_id": "unknown", "la_code": referral["la_code"]}
        )
        out.emitted.append(
            _new_assessment(
                event.referral_id,
                referral["la_code"],
                offer,
                person,
                f"not treated as the adult assessment: {event.reason}",
            )
        )


def _new_assessment(
    referral_id: str, la_code: str, offer: OfferedAssessment, young_person: PersonRef, reason: str
) -> CareAssessmentRequested:
    carer = offer.assessment_type.value in CARER_TYPES
    return CareAssessmentRequested(
        request_id=derived_id(f"{referral_id}:{offer.assessment_id}", "new-assessment"),
        referral_id=referral_id,
        la_code=la_code,
        assessment_type="s10-carers" if carer else "s9-needs",
        person=offer.assessed_person or young_person,
        replaces_assessment_id=offer.assessment_id,
        reason=reason,
    )


# ---- the planner ----


@dataclass
class Candidate:
    person_key: str
    person: dict[str, Any]
    la_code: str
    reasons: set[str] = field(default_factory=set)
    case: dict[str, Any] | None = None


def plan_referrals(
    sources: dict[str, list[Any]], today: date, rules: TransitionRules
) -> list[TransitionReferralIssued]:
    """Referrals due today that have not been issued, built from what the store knows."""
    candidates: dict[str, Candidate] = {}

    def consider(key: str | None, person: dict[str, Any], la: str, reason: str, case: dict | None = None) -> None:
        if not key:
            return
        c = candidates.setdefault(key, Candidate(key, person, la))
        c.reasons.add(reason)
        if case is not None:
            c.case = case
        if not c.person.get("date_of_birth") and person.get("date_of_birth"):
            c.person = person

    csc = set(sources["csc_case_ids"])
    for case in sources["cases"]:
        if case.get("final_plan_date"):
            consider(case["person_key"], case["person"] or {}, case["la_code"], "ehc-plan", case)
        if case["case_id"] in csc:
            consider(case["person_key"], case["person"] or {}, case["la_code"], "childrens-social-care", case)
    for a in sources["assessments"]:
        if a["status"] != "completed":
            continue
        if a["assessment_type"] == "s58-childs-needs":
            consider(a["assessed_key"], a["assessed_person"], a["la_code"], "s58")
        elif a["assessment_type"] == "s63-young-carers":  # a young carer known to children's services
            consider(a["assessed_key"], a["assessed_person"], a["la_code"], "childrens-social-care")
    referred = {r["person_key"] for r in sources["referrals"]}
    out = []
    for c in sorted(candidates.values(), key=lambda c: c.person_key):
        dob = c.person.get("date_of_birth")
        if c.person_key in referred or not dob or not referral_due(dob, today, rules):
            continue
        out.append(build_referral(c, eighteenth_birthday(date.fromisoformat(dob)), sources, today, rules))
    return out


def referral_due(date_of_birth: str, today: date, rules: TransitionRules) -> bool:
    """Whether a referral for someone born on this day is due (lead months before their 18th birthday)."""
    return today >= add_months(eighteenth_birthday(date.fromisoformat(date_of_birth)), -rules.lead_months)


def may_need_referral(case: dict[str, Any], today: date, rules: TransitionRules) -> bool:
    """The planner's filter on open cases, applied while the store streams them: a case whose person
    is not yet near 18 cannot give rise to a referral today, so it need not be held in memory.
    Without a date of birth on the case it is kept, as another source may supply one."""
    dob = (case.get("person") or {}).get("date_of_birth")
    return not dob or referral_due(dob, today, rules)


def build_referral(
    c: Candidate, birthday: date, sources: dict[str, list[Any]], today: date, rules: TransitionRules
) -> TransitionReferralIssued:
    offers: list[OfferedAssessment] = []
    latest: dict[tuple[str, str | None], dict[str, Any]] = {}
    for a in sources["assessments"]:
        own = a["assessed_key"] == c.person_key and a["assessment_type"] in ("s58-childs-needs", "s63-young-carers")
        carer = a["assessment_type"] == "s60-childs-carers" and c.person_key in a["cared_for_keys"]
        if not (own or carer):
            continue
        slot = (a["assessment_type"], a["assessed_key"])
        if slot not in latest or a["completed_date"] > latest[slot]["completed_date"]:
            latest[slot] = a
    for a in sorted(latest.values(), key=lambda a: a["assessment_id"]):
        changes = [
            *a["material_change_flags"],
            *(
                f"{ch['change_date']}: {ch['description']}"
                for ch in sources["changes"]
                if ch["person_key"] in (a["assessed_key"], c.person_key) and ch["change_date"] > a["completed_date"]
            ),
        ]
        is_carer = a["assessment_type"] == "s60-childs-carers"
        if a["status"] == "refused":
            if not changes:
                continue  # s60(3): a carer who refused is not pressed again without a change
            recommendation, reason = ReuseRecommendation.REASSESS, "refused before; circumstances changed since"
        else:
            recommendation, reason = recommend(a["completed_date"], changes, today, rules)
        offers.append(
            OfferedAssessment(
                assessment_id=a["assessment_id"],
                assessment_type=a["assessment_type"],
                completed_date=a["completed_date"],
                assessor=Adviser.model_validate(a["assessor"]),
                eligibility_indication=a["eligibility"],
                changes_since=changes,
                recommendation=recommendation,
                recommendation_reason=reason,
                assessed_person=PersonRef.model_validate(a["assessed_person"]),
                client_type="Carer" if is_carer or a["assessment_type"] == "s63-young-carers" else "Service User",
                status=a["status"],
            )
        )
    sections = None
    if c.case and c.case.get("plan_sections"):
        sections = PlanSections.model_validate(
            {k: v for k, v in c.case["plan_sections"].items() if k in ADULT_SECTIONS}
        )
    return TransitionReferralIssued(
        referral_id=derived_id(c.person_key, "transition-referral"),
        la_code=c.la_code,
        person=PersonRef.model_validate(c.person),
        eighteenth_birthday=birthday,
        case_id=c.case["case_id"] if c.case else None,
        issued_date=today,
        reasons=sorted(c.reasons),
        plan_sections=sections,
        offered_assessments=offers,
    )


def continuity_alerts(sources: dict[str, list[Any]], today: date) -> list[AlertRaised]:
    """s66: at 18, until adult support is in place, children's services are told to continue."""
    from schemas.common import Agency, OrganisationRef

    alerts = []
    for r in sources["referrals"]:
        if r["eighteenth_birthday"] <= today and r["support_in_place_date"] is None:
            alerts.append(
                AlertRaised(
                    alert_id=derived_id(r["referral_id"], "s66-continue"),
                    case_id=r["referral_id"],
                    kind="s66-continue-childrens-services",
                    severity="info",
                    message="turned 18 without adult support in place: continue children's services (Care Act s66)",
                    due_date=r["eighteenth_birthday"],
                    organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=r["la_code"]),
                )
            )
    return alerts


def measures(sources: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    """Per LA: assessments reused, assessments re-done, median days from referral to adult decision."""
    by_referral = {r["referral_id"]: r for r in sources["referrals"]}
    out: dict[str, dict[str, Any]] = {}
    first_decision: dict[str, date] = {}
    for d in sources["decisions"]:
        referral = by_referral.get(d["referral_id"])
        if referral is None:
            continue
        m = out.setdefault(referral["la_code"], {"reused": 0, "redone": 0, "referrals": 0})
        m["reused" if d["accepted"] else "redone"] += 1
        prior = first_decision.get(d["referral_id"])
        first_decision[d["referral_id"]] = min(prior, d["decision_date"]) if prior else d["decision_date"]
    for r in sources["referrals"]:
        out.setdefault(r["la_code"], {"reused": 0, "redone": 0, "referrals": 0})["referrals"] += 1
    for la, m in out.items():
        days = [
            (first_decision[rid] - r["issued_date"]).days
            for rid, r in by_referral.items()
            if r["la_code"] == la and rid in first_decision
        ]
        m["median_days_to_adult_decision"] = median(days) if days else None
    return out
