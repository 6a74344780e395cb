"""LA SEN case-system exports (CSV columns) to canonical events. Pure: plain data in, events out."""

from __future__ import annotations

from adapters.common import MappingError
from adapters.csv_rows import day, optional, required
from schemas.common import Adviser, Agency, OrganisationRef, PersonRef
from schemas.events import (
    AdviceSubmitted,
    AssessmentDecisionMade,
    AssessmentRequested,
    PanelOutcomeRecorded,
    PlanRecorded,
)

REQUESTERS = {
    "parent": "parent",
    "young person": "young-person",
    "young-person": "young-person",
    "school": "school-or-college",
    "college": "school-or-college",
    "school-or-college": "school-or-college",
    "s24": "la-s24",
    "la-s24": "la-s24",
}


def person_from(row: dict[str, str]) -> PersonRef:
    return PersonRef.model_validate(
        {
            "nhs_number": optional(row, "nhs_number"),
            "upn": optional(row, "upn"),
            "uln": optional(row, "uln"),
            "la_person_id": optional(row, "la_person_id"),
            "la_code": optional(row, "la_code") if optional(row, "la_person_id") else None,
            "given_name": optional(row, "given_name"),
            "family_name": optional(row, "family_name"),
            "date_of_birth": day(row, "date_of_birth", needed=False),
        }
    )


def assessment_request(row: dict[str, str]) -> AssessmentRequested:
    """Columns: case_id, la_code, received_date, requested_by, person columns, year_group, school_urn."""
    requester = required(row, "requested_by").lower()
    if requester not in REQUESTERS:
        raise MappingError(
            f"requested_by {requester!r} is not one of parent, young person, school, s24",
            field="requested_by",
            rule="requester",
        )
    year = optional(row, "year_group")
    if year is not None and not year.lstrip("-").isdigit():
        raise MappingError(f"year_group {year!r} is not a number", field="year_group", rule="integer")
    urn = optional(row, "school_urn")
    return AssessmentRequested(
        case_id=required(row, "case_id"),
        la_code=required(row, "la_code"),
        person=person_from(row),
        requested_by=REQUESTERS[requester],  # type: ignore[arg-type]
        received_date=day(row, "received_date"),  # type: ignore[arg-type]
        year_group=int(year) if year is not None else None,
        school=OrganisationRef(agency=Agency.SCHOOL, code=urn) if urn else None,
    )


def assessment_decision(row: dict[str, str]) -> AssessmentDecisionMade:
    """Columns: case_id, la_code, decision (assess/not-assess), decision_date, school_urn, ep_code,
    health_ods, social_care_code."""
    advisers = [
        OrganisationRef(agency=agency, code=row[column])
        for column, agency in (
            ("school_urn", Agency.SCHOOL),
            ("ep_code", Agency.EDUCATIONAL_PSYCHOLOGY),
            ("health_ods", Agency.NHS),
            ("social_care_code", Agency.CHILDRENS_SOCIAL_CARE),
        )
        if row.get(column)
    ]
    return AssessmentDecisionMade.model_validate(
        {
            "case_id": required(row, "case_id"),
            "la_code": required(row, "la_code"),
            "decision": required(row, "decision").lower(),
            "decision_date": day(row, "decision_date"),
            "advisers": advisers,
        }
    )


def panel_outcome(row: dict[str, str]) -> PanelOutcomeRecorded:
    return PanelOutcomeRecorded.model_validate(
        {
            "case_id": required(row, "case_id"),
            "la_code": required(row, "la_code"),
            "panel_date": day(row, "panel_date"),
            "outcome": required(row, "outcome").lower(),
            "reasons": row.get("reasons", ""),
        }
    )


def plan_event(row: dict[str, str]) -> PlanRecorded:
    return PlanRecorded.model_validate(
        {
            "case_id": required(row, "case_id"),
            "la_code": required(row, "la_code"),
            "kind": required(row, "kind").lower(),
            "event_date": day(row, "event_date"),
            "review_type": optional(row, "review_type"),
        }
    )


def advice(row: dict[str, str], agency: Agency) -> AdviceSubmitted:
    """Advice from a school, an educational psychologist or a social worker, exported as a row."""
    return AdviceSubmitted.model_validate(
        {
            "case_id": required(row, "case_id"),
            "request_id": required(row, "request_id"),
            "advice_kind": required(row, "advice_kind"),
            "submitted_date": day(row, "submitted_date"),
            "summary": row.get("summary", ""),
            "adviser": Adviser(
                name=required(row, "adviser_name"),
                role=required(row, "adviser_role"),
                organisation=OrganisationRef(agency=agency, code=required(row, "organisation_code")),
            ),
        }
    )


CSV_KINDS = {
    "assessment-requests": assessment_request,
    "assessment-decisions": assessment_decision,
    "panel-outcomes": panel_outcome,
    "plans": plan_event,
    "school-advice": lambda row: advice(row, Agency.SCHOOL),
    "ep-advice": lambda row: advice(row, Agency.EDUCATIONAL_PSYCHOLOGY),
}
