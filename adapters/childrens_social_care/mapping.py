"""Children's social care exports (CSV columns) to canonical events. Pure: plain data in, events out."""

from __future__ import annotations

from adapters.csv_rows import day, optional, required
from adapters.education.mapping import advice, person_from
from schemas.common import Adviser, Agency, OrganisationRef, PersonRef
from schemas.events import CareAssessmentRecorded

TYPES = {"s58": "s58-childs-needs", "s60": "s60-childs-carers", "s63": "s63-young-carers"}


def care_assessment(row: dict[str, str]) -> CareAssessmentRecorded:
    """Columns: assessment_id, la_code, type (s58/s60/s63), status, completed_date, assessor_name,
    assessor_role, eligibility, the assessed person's columns, and cared_for_* columns for carers."""
    kind = required(row, "type").lower()
    cared_for: list[PersonRef] = []
    cared = {k.removeprefix("cared_for_"): v for k, v in row.items() if k.startswith("cared_for_") and v}
    if cared:
        cared_for.append(person_from({**cared, "la_code": row.get("la_code", "")}))
    return CareAssessmentRecorded.model_validate(
        {
            "assessment_id": required(row, "assessment_id"),
            "la_code": required(row, "la_code"),
            "assessment_type": TYPES.get(kind, kind),
            "assessed_person": person_from(row),
            "cared_for": cared_for,
            "status": required(row, "status").lower(),
            "completed_date": day(row, "completed_date"),
            "assessor": Adviser(
                name=required(row, "assessor_name"),
                role=required(row, "assessor_role"),
                organisation=OrganisationRef(agency=Agency.CHILDRENS_SOCIAL_CARE, code=row.get("la_code", "")),
            ),
            "eligibility_indication": optional(row, "eligibility") or "not-determined",
            "material_change_flags": [f for f in row.get("changes", "").split(";") if f],
        }
    )


CSV_KINDS = {
    "social-care-advice": lambda row: advice(row, Agency.CHILDRENS_SOCIAL_CARE),
    "care-assessments": care_assessment,
}
