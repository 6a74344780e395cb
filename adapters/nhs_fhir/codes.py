"""Systems and codes used on the FHIR side."""

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_CODE = "https://fhir.nhs.uk/Id/ods-organization-code"
MESSAGE_EVENTS = "https://fhir.ehc-hub.uk/CodeSystem/message-events"
EVENT_ADVICE_REQUEST = "ehc-health-advice-request"
EVENT_ADVICE = "ehc-health-advice"
REQUEST_IDENTIFIER = "https://fhir.ehc-hub.uk/Id/advice-request"
CASE_IDENTIFIER = "https://fhir.ehc-hub.uk/Id/ehc-case"
QUESTIONNAIRE_URL = "https://fhir.ehc-hub.uk/Questionnaire/ehc-health-advice"
QUESTIONNAIRE_ID = "ehc-health-advice"
FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
TASK_STATUSES_SETTABLE = {"accepted", "rejected", "in-progress"}
