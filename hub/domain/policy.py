"""Information-sharing policy as data: who receives which fields of which event, and why lawfully.

Each agency receives only the fields its statutory role needs (design.md section 5). Field
paths are dotted (``sections.d``); anything not listed is removed before the event leaves the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.common import Agency

PUBLIC_TASK_HEALTH = "UK GDPR 6(1)(e) public task; 9(2)(h) with DPA 2018 Sch 1 Pt 1 para 2"
PUBLIC_TASK_STATUTORY = "UK GDPR 6(1)(e) public task; 9(2)(g) with DPA 2018 Sch 1 Pt 2 para 6"

CASE = ("case_id", "la_code")


@dataclass(frozen=True)
class Share:
    recipient: Agency
    fields: tuple[str, ...]
    lawful_basis: str


ALL = ("*",)

SHARING: dict[str, tuple[Share, ...]] = {
    # reg 4(2): the health commissioner, social care and the head are told an assessment is being
    # considered, with no more than identifies the child to them
    "assessment-requested": (
        Share(Agency.HEALTH_COMMISSIONER, (*CASE, "received_date", "person.nhs_number"), PUBLIC_TASK_HEALTH),
        Share(
            Agency.CHILDRENS_SOCIAL_CARE,
            (*CASE, "received_date", "person.la_person_id", "person.la_code"),
            PUBLIC_TASK_STATUTORY,
        ),
        Share(Agency.SCHOOL, (*CASE, "received_date", "person.upn", "school"), PUBLIC_TASK_STATUTORY),
    ),
    "assessment-decision-made": tuple(
        Share(a, (*CASE, "decision", "decision_date"), PUBLIC_TASK_STATUTORY)
        for a in (Agency.SCHOOL, Agency.EDUCATIONAL_PSYCHOLOGY, Agency.NHS, Agency.CHILDRENS_SOCIAL_CARE)
    ),
    "advice-submitted": (Share(Agency.LA_SEN, ALL, PUBLIC_TASK_STATUTORY),),
    "advice-request-status-changed": (Share(Agency.LA_SEN, ALL, PUBLIC_TASK_STATUTORY),),
    "panel-outcome-recorded": (
        Share(Agency.NHS, (*CASE, "panel_date", "outcome", "health_summary"), PUBLIC_TASK_HEALTH),
        Share(
            Agency.CHILDRENS_SOCIAL_CARE, (*CASE, "panel_date", "outcome", "social_care_summary"), PUBLIC_TASK_STATUTORY
        ),
        Share(Agency.SCHOOL, (*CASE, "panel_date", "outcome", "education_summary"), PUBLIC_TASK_STATUTORY),
    ),
    "plan-recorded": (
        Share(Agency.NHS, (*CASE, "kind", "event_date", "review_type", "sections.c", "sections.g"), PUBLIC_TASK_HEALTH),
        Share(
            Agency.CHILDRENS_SOCIAL_CARE,
            (*CASE, "kind", "event_date", "review_type", "sections.d", "sections.h1", "sections.h2"),
            PUBLIC_TASK_STATUTORY,
        ),
        Share(
            Agency.SCHOOL,
            (
                *CASE,
                "kind",
                "event_date",
                "review_type",
                "sections.b",
                "sections.e",
                "sections.f",
                "sections.i",
                "sections.pfa_outcomes",
            ),
            PUBLIC_TASK_STATUTORY,
        ),
    ),
    # a review's progress (the meeting, the decision) to those who advise on it and deliver the plan
    "review-recorded": tuple(
        Share(a, (*CASE, "review_id", "step", "step_date", "review_type", "meeting_date", "decision"), basis)
        for a, basis in (
            (Agency.SCHOOL, PUBLIC_TASK_STATUTORY),
            (Agency.NHS, PUBLIC_TASK_HEALTH),
            (Agency.CHILDRENS_SOCIAL_CARE, PUBLIC_TASK_STATUTORY),
        )
    ),
    # reg 15: every agency working on the case learns which council maintains the plan now
    "la-transfer-recorded": tuple(
        Share(a, (*CASE, "new_la_code", "step", "step_date", "move_date"), basis)
        for a, basis in (
            (Agency.SCHOOL, PUBLIC_TASK_STATUTORY),
            (Agency.NHS, PUBLIC_TASK_HEALTH),
            (Agency.CHILDRENS_SOCIAL_CARE, PUBLIC_TASK_STATUTORY),
        )
    ),
    "phase-transfer-recorded": (
        Share(
            Agency.SCHOOL,
            (*CASE, "transfer_id", "transfer_kind", "transfer_date", "next_institution"),
            PUBLIC_TASK_STATUTORY,
        ),
    ),
    "care-assessment-recorded": (),
    "transition-referral-issued": (Share(Agency.ADULT_SOCIAL_CARE, ALL, PUBLIC_TASK_STATUTORY),),
    "transition-referral-updated": (Share(Agency.ADULT_SOCIAL_CARE, ALL, PUBLIC_TASK_STATUTORY),),
    "treat-as-adult-assessment-decision": (Share(Agency.CHILDRENS_SOCIAL_CARE, ALL, PUBLIC_TASK_STATUTORY),),
}


def minimise(data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Keep only the listed dotted paths of ``data``."""
    if fields == ALL:
        return data
    out: dict[str, Any] = {}
    for path in fields:
        head, _, rest = path.partition(".")
        if head not in data:
            continue
        if rest:
            nested = minimise(data[head], (rest,)) if isinstance(data[head], dict) else {}
            if nested:
                out.setdefault(head, {}).update(nested)
            elif isinstance(data[head], dict) and data[head].get("erased"):  # shared, and erased since
                out.setdefault(head, {})["erased"] = True
        else:
            out[head] = data[head]
    return out


def shares_for(event_type: str) -> tuple[Share, ...]:
    return SHARING.get(event_type, ())
