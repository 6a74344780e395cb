"""The CapabilityStatement: exactly what the hub's FHIR facade supports, no more."""

from __future__ import annotations

from typing import Any

from adapters.nhs_fhir.codes import FHIR_JSON, FHIR_VERSION, QUESTIONNAIRE_URL


def capability_statement(base_url: str, date: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "id": "ehc-hub",
        "url": f"{base_url}/fhir/metadata",
        "name": "EHCHubFhirFacade",
        "title": "EHC integration hub: FHIR facade for NHS providers",
        "status": "active",
        "date": date,
        "publisher": "EHC integration hub",
        "kind": "instance",
        "implementation": {"description": "Health advice for EHC needs assessments", "url": f"{base_url}/fhir"},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Advice requests are Tasks owned by the provider's ODS code. Advice comes back as a "
                "message Bundle ($process-message or POST Bundle) whose focus is a QuestionnaireResponse to "
                f"{QUESTIONNAIRE_URL}, a DocumentReference or a Composition. NHS numbers must pass Modulus 11.",
                "resource": [
                    {
                        "type": "Task",
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "update"},
                            {"code": "patch"},
                        ],
                        "updateCreate": False,
                        "searchParam": [
                            {"name": "owner", "type": "reference", "documentation": "ODS code, optionally system|code"},
                            {"name": "status", "type": "token"},
                        ],
                    },
                    {
                        "type": "Communication",
                        "interaction": [{"code": "search-type"}],
                        "documentation": "what the hub sent a provider with no endpoint to push to: assessment "
                        "decisions, panel outcomes and the plan's health sections, oldest first",
                        "searchParam": [
                            {
                                "name": "recipient",
                                "type": "reference",
                                "documentation": "ODS code, or system|code",
                            }
                        ],
                    },
                    {
                        "type": "Questionnaire",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [{"name": "url", "type": "uri"}],
                    },
                    {
                        "type": "Bundle",
                        "interaction": [{"code": "create"}],
                        "documentation": "message Bundles carrying health advice",
                    },
                ],
                "operation": [
                    {
                        "name": "process-message",
                        "definition": "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message",
                    }
                ],
            }
        ],
        "messaging": [
            {
                "supportedMessage": [
                    {"mode": "receiver", "definition": "https://fhir.ehc-hub.uk/MessageDefinition/ehc-health-advice"},
                    *(
                        {"mode": "sender", "definition": f"https://fhir.ehc-hub.uk/MessageDefinition/{code}"}
                        for code in (
                            "ehc-health-advice-request",
                            "ehc-assessment-decision",
                            "ehc-panel-outcome",
                            "ehc-plan",
                            "ehc-alert",
                        )
                    ),
                ]
            }
        ],
    }
