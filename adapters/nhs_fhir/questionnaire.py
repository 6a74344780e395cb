"""The Questionnaire the hub publishes for structured EHC health advice (SEND Regs reg 6(1)(c)).

Its items follow the EHC plan sections health advice informs (C: health needs related to SEN;
G: health provision), the outcomes sought, and the Designated Medical or Clinical Officer's
sign-off that must be in place before panel.
"""

from __future__ import annotations

from typing import Any

from adapters.nhs_fhir.codes import QUESTIONNAIRE_ID, QUESTIONNAIRE_URL

ITEM_NEEDS = "health-needs"
ITEM_PROVISION = "health-provision"
ITEM_OUTCOMES = "health-outcomes"
ITEM_SIGNOFF = "dmo-signoff"
ITEM_SIGNOFF_NAME = "dmo-signoff.name"
ITEM_SIGNOFF_ROLE = "dmo-signoff.role"
ITEM_SIGNOFF_DATE = "dmo-signoff.date"

QUESTIONNAIRE: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "id": QUESTIONNAIRE_ID,
    "url": QUESTIONNAIRE_URL,
    "version": "1.0.0",
    "name": "EHCHealthAdvice",
    "title": "Health advice for an EHC needs assessment",
    "status": "active",
    "subjectType": ["Patient"],
    "publisher": "EHC integration hub",
    "description": "Structured health advice for an Education, Health and Care needs assessment "
    "(SEND Regulations 2014 reg 6(1)(c)), due within 6 weeks of the request (reg 8).",
    "item": [
        {
            "linkId": ITEM_NEEDS,
            "text": "Health needs related to special educational needs (plan section C)",
            "type": "text",
            "required": True,
        },
        {
            "linkId": ITEM_PROVISION,
            "text": "Health provision reasonably required (plan section G)",
            "type": "text",
            "required": True,
        },
        {"linkId": ITEM_OUTCOMES, "text": "Outcomes the health provision should help achieve", "type": "text"},
        {
            "linkId": ITEM_SIGNOFF,
            "text": "Designated Medical/Clinical Officer sign-off",
            "type": "group",
            "item": [
                {"linkId": ITEM_SIGNOFF_NAME, "text": "Name", "type": "string"},
                {"linkId": ITEM_SIGNOFF_ROLE, "text": "Role (DMO or DCO)", "type": "string"},
                {"linkId": ITEM_SIGNOFF_DATE, "text": "Date signed off", "type": "date"},
            ],
        },
    ],
}
