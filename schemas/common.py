"""Value types shared by several events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.identifiers import LaCode, NhsNumber, OdsCode, Uln, Upn


class Contract(BaseModel):
    """Base for every contract model: unknown fields are refused so typos fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Agency(StrEnum):
    """The kinds of organisation the hub carries messages between."""

    LA_SEN = "la-sen"
    SCHOOL = "school"
    EDUCATIONAL_PSYCHOLOGY = "educational-psychology"
    NHS = "nhs"
    HEALTH_COMMISSIONER = "health-commissioner"
    CHILDRENS_SOCIAL_CARE = "childrens-social-care"
    ADULT_SOCIAL_CARE = "adult-social-care"
    FAMILY = "family"


LA_SERVICES = (Agency.LA_SEN, Agency.CHILDRENS_SOCIAL_CARE, Agency.ADULT_SOCIAL_CARE)
"""The council's own services: what is meant for one of them reaches that service of the case's council."""


class OrganisationRef(Contract):
    agency: Agency
    code: str = Field(description="ODS code for NHS bodies, LA code for councils, URN for schools", min_length=1)
    name: str | None = None


_DETAILS = ("nhs_number", "upn", "uln", "la_person_id", "given_name", "family_name", "date_of_birth")


class PersonRef(Contract):
    """A young person or carer as one agency knows them. At least one identifier is required."""

    nhs_number: NhsNumber | None = None
    upn: Upn | None = None
    uln: Uln | None = None
    la_person_id: str | None = Field(default=None, description="the LA's own person id, qualified by la_code")
    la_code: LaCode | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    erased: bool | None = Field(
        default=None,
        description="set by the hub, never by a sender: this person's details were erased, and only the LA "
        "code is left",
    )

    @model_validator(mode="after")
    def _has_identifier(self) -> PersonRef:
        if self.erased:
            if any(getattr(self, f) is not None for f in _DETAILS):
                raise ValueError("an erased person has no identifiers, name or date of birth")
            return self
        if not (self.nhs_number or self.upn or self.uln or self.la_person_id):
            raise ValueError("a person needs at least one identifier: nhs_number, upn, uln or la_person_id")
        if self.la_person_id and not self.la_code:
            raise ValueError("la_person_id needs la_code, because LA person ids are only unique within one LA")
        return self


class AdviceKind(StrEnum):
    """Advice the LA must seek under SEND Regs reg 6(1)."""

    PARENT_OR_YOUNG_PERSON = "parent-or-young-person"
    EDUCATION = "education"
    HEALTH = "health"
    EDUCATIONAL_PSYCHOLOGY = "educational-psychology"
    SOCIAL_CARE = "social-care"
    PREPARING_FOR_ADULTHOOD = "preparing-for-adulthood"
    HEARING_OR_VISION = "hearing-or-vision"
    OTHER = "other"


class Adviser(Contract):
    name: str
    role: str
    organisation: OrganisationRef


class NhsOrganisation(OrganisationRef):
    code: OdsCode  # type: ignore[assignment]
