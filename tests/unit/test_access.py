"""Who may send what, judged with plain data: the claims a message makes against the caller's
credential (adapters.access), and the case, request or referral it touches (hub.domain.authority)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import HTTPException

from adapters.access import Caller, Organisation, refuse_for_one_organisation, refuse_foreign_claims
from hub.auth.ratelimit import RateLimiter
from hub.auth.registry import ClientRegistry, hub_roles
from hub.domain.authority import refusal
from hub.domain.state import AdviceRequest, Case, Referral
from hub.settings import AuthSettings, ClientRegistration
from schemas.common import Adviser, Agency, OrganisationRef
from schemas.events import (
    AdviceSubmitted,
    CaseExceptionRecorded,
    PanelOutcomeRecorded,
    TreatAsAdultAssessmentDecision,
)

LA202 = Organisation(Agency.LA_SEN, "202", "202")
SCHOOL = Organisation(Agency.SCHOOL, "100001")
RBS = Organisation(Agency.NHS, "RBS")


def caller(org: Organisation, *permissions: str) -> Caller:
    return Caller("system", "sub", "client", frozenset(permissions), org)


def advice(org: OrganisationRef) -> AdviceSubmitted:
    return AdviceSubmitted(
        case_id="C-1",
        request_id="R-1",
        advice_kind="education",  # type: ignore[arg-type]
        adviser=Adviser(name="A", role="SENCO", organisation=org),
        submitted_date=date(2026, 3, 1),
    )


def panel(la_code: str) -> PanelOutcomeRecorded:
    return PanelOutcomeRecorded(case_id="C-1", la_code=la_code, panel_date=date(2026, 3, 2), outcome="issue-plan")  # type: ignore[arg-type]


def test_an_la_may_send_for_its_own_council_only() -> None:
    la = caller(LA202, "submit:panel-outcome-recorded")
    assert refuse_foreign_claims(la, panel("202")) == LA202
    with pytest.raises(HTTPException) as refused:
        refuse_foreign_claims(la, panel("208"))
    assert refused.value.status_code == 403 and "208" in refused.value.detail


def test_work_over_every_organisations_records_is_refused_to_a_system_acting_for_one() -> None:
    granted = ("subject-access:export", "personal-data:read")
    with pytest.raises(HTTPException) as refused:
        refuse_for_one_organisation(caller(LA202, *granted), "a subject access export")
    assert refused.value.status_code == 403 and "la-sen/202" in refused.value.detail
    refuse_for_one_organisation(Caller("system", "sub", "ops-monitor", frozenset(granted)), "an export")
    refuse_for_one_organisation(Caller("person", "sub", "dashboard", frozenset(granted), name="Dana"), "an export")


def test_a_permission_is_needed_for_each_event_type() -> None:
    with pytest.raises(HTTPException, match="submit:panel-outcome-recorded"):
        refuse_foreign_claims(caller(LA202, "submit:advice-submitted"), panel("202"))
    assert refuse_foreign_claims(caller(LA202, "submit:*"), panel("202")) == LA202


def test_advice_is_signed_by_the_callers_own_organisation() -> None:
    school = caller(SCHOOL, "submit:advice-submitted")
    assert refuse_foreign_claims(school, advice(SCHOOL.ref())) == SCHOOL
    with pytest.raises(HTTPException, match=r"adviser\.organisation"):
        refuse_foreign_claims(school, advice(OrganisationRef(agency=Agency.SCHOOL, code="100002")))
    with pytest.raises(HTTPException):
        refuse_foreign_claims(caller(RBS, "submit:advice-submitted"), advice(SCHOOL.ref()))


def test_an_la_records_its_own_families_views_and_no_other_councils() -> None:
    la = caller(LA202, "submit:advice-submitted")
    assert refuse_foreign_claims(la, advice(OrganisationRef(agency=Agency.FAMILY, code="202"))) == LA202
    with pytest.raises(HTTPException, match="family advice"):
        refuse_foreign_claims(la, advice(OrganisationRef(agency=Agency.FAMILY, code="208")))


def test_a_case_of_another_council_is_refused() -> None:
    event = CaseExceptionRecorded(
        exception_id="E-1",
        case_id="C-1",
        kind="absent-from-area",  # type: ignore[arg-type]
        start_date=date(2026, 1, 1),
        end_date=date(2026, 2, 1),
        recorded_by="LA",
    )
    assert refusal(LA202, event, Case("C-1", la_code="202")) is None
    assert "belongs to LA 208" in (refusal(LA202, event, Case("C-1", la_code="208")) or "")
    assert refusal(LA202, event, None) is None, "an unknown case is the workflow's 404, not a 403"


def test_advice_answers_only_a_request_sent_to_the_sender() -> None:
    sent = AdviceRequest("R-1", "C-1", "education", "school", "100001", date(2026, 2, 9))
    context = Case("C-1", la_code="202", advice={"R-1": sent})
    assert refusal(SCHOOL, advice(SCHOOL.ref()), context) is None
    other = Organisation(Agency.SCHOOL, "100002")
    assert "was sent to 100001" in (refusal(other, advice(other.ref()), context) or "")


def test_a_referral_is_answered_by_its_own_councils_adult_service() -> None:
    decision = TreatAsAdultAssessmentDecision(
        referral_id="REF-1",
        assessment_id="A-1",
        accepted=True,
        reason="current",
        decided_by="x",
        decision_date=date(2026, 5, 1),
    )
    asc202 = Organisation(Agency.ADULT_SOCIAL_CARE, "202-ASC", "202")
    asc208 = Organisation(Agency.ADULT_SOCIAL_CARE, "208-ASC", "208")
    referral = Referral("REF-1", "P", "202", date(2026, 5, 10), date(2026, 1, 10), offered=())
    assert refusal(asc202, decision, referral) is None
    assert "went to LA 202" in (refusal(asc208, decision, referral) or "")


def test_registered_clients_act_for_their_organisation_and_people_for_their_roles() -> None:
    registry = ClientRegistry(
        {
            "csc-202": ClientRegistration.model_validate(
                {
                    "organisation": {"agency": "childrens-social-care", "code": "202-CSC", "la_code": "202"},
                    "permissions": ["inbox:read"],
                }
            )
        }
    )
    csc = registry.system("csc-202", "sub", "bearer")
    assert csc is not None and csc.organisation == Organisation(Agency.CHILDRENS_SOCIAL_CARE, "202-CSC", "202")
    assert registry.system("unknown", "sub", "bearer") is None
    auth = AuthSettings(role_map={"EHC-Hub-Operators": "operator"})
    assert hub_roles({"realm_access": {"roles": ["viewer", "offline_access"]}}, auth) == ("viewer",)
    assert hub_roles({"roles": ["EHC-Hub-Operators"]}, auth) == ("operator",), "Entra ID app roles, mapped"


def test_rate_limits_answer_with_the_wait_and_forget_old_callers() -> None:
    limiter = RateLimiter(per_minute=60, burst=2, max_callers=3)
    assert limiter.take("a", now=0) == 0 and limiter.take("a", now=0) == 0
    assert limiter.take("a", now=0) == pytest.approx(1.0)
    assert limiter.take("a", now=1.0) == 0, "refilled at one a second"
    for n in range(10):
        limiter.take(f"other-{n}", now=2)
    assert len(limiter._buckets) == 3
