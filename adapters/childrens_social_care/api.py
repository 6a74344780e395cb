"""REST ingress for children's social care systems."""

from __future__ import annotations

from fastapi import APIRouter

from adapters.childrens_social_care.mapping import CSV_KINDS
from adapters.http import add_event_endpoint
from adapters.imports import add_csv_endpoint
from schemas.events import (
    AdviceSubmitted,
    CareAssessmentRecorded,
    ChangeOfCircumstancesRecorded,
    TransitionNeedDetermined,
)

router = APIRouter(prefix="/api/v1/social-care", tags=["children's social care"])

add_event_endpoint(
    router,
    "/advice",
    AdviceSubmitted,
    "F3: social care advice for an EHC needs assessment",
)
add_event_endpoint(
    router,
    "/assessments",
    CareAssessmentRecorded,
    "F6: a Care Act s58, s60 or s63 transition assessment",
)
add_event_endpoint(
    router,
    "/changes-of-circumstances",
    ChangeOfCircumstancesRecorded,
    "F6: a change in a young person's or carer's circumstances (bears on reusing assessments)",
)
add_event_endpoint(
    router,
    "/transition-needs",
    TransitionNeedDetermined,
    "Care Act s58(1)/s63(1): likely need after 18 and significant benefit; the reason a referral may be made",
)
add_csv_endpoint(router, CSV_KINDS)
