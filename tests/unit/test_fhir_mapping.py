"""FHIR mapping with plain data, against our own messages and NHS England's published examples."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError

from adapters.nhs_fhir.capability import capability_statement
from adapters.nhs_fhir.inbound import read_advice_message
from adapters.nhs_fhir.outbound import request_message
from adapters.nhs_fhir.outcome import FhirProblem
from adapters.nhs_fhir.questionnaire import QUESTIONNAIRE
from schemas.events import AdviceRequested
from schemas.identifiers import nhs_number_problem
from tests.fhir_messages import PDF, document_reference_message, questionnaire_response_message
from tests.helpers import person

BARS = Path(__file__).parents[1] / "data" / "nhs-bars"
NHS = person(1).nhs_number or ""


def _request() -> AdviceRequested:
    return AdviceRequested(
        case_id="C-1",
        request_id="REQ-1",
        advice_kind="health",
        recipient={"agency": "nhs", "code": "RBS"},
        person=person(1),
        requested_date=date(2026, 2, 9),
        due_date=date(2026, 3, 23),
    )


def test_advice_request_is_a_valid_r4_message_with_task_and_service_request() -> None:
    bundle = request_message(_request(), "B-1", "https://hub.example/fhir", "2026-02-09T09:00:00+00:00")
    Bundle.model_validate(bundle)
    header, task, service_request, patient = (e["resource"] for e in bundle["entry"])
    assert header["resourceType"] == "MessageHeader" and header["eventCoding"]["code"] == "ehc-health-advice-request"
    assert (task["intent"], task["status"]) == ("order", "requested")
    assert task["owner"]["identifier"] == {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RBS"}
    assert task["for"]["identifier"] == {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}
    assert task["focus"]["reference"] == "ServiceRequest/REQ-1"
    assert task["restriction"]["period"]["end"] == "2026-03-23"
    assert service_request["intent"] == "order" and patient["birthDate"] == "2010-03-14"


def test_questionnaire_response_message_maps_to_advice() -> None:
    advice = read_advice_message(questionnaire_response_message("B-2", "REQ-1", NHS))
    assert (advice.request_id, advice.sender_ods, advice.nhs_number) == ("REQ-1", "RBS", NHS)
    assert (advice.submitted_date, advice.adviser_name) == (date(2026, 3, 20), "Priya Shah")
    assert (advice.signoff_name, advice.signoff_role, advice.signoff_date) == (
        "Dr Anil Rao",
        "Designated Medical Officer",
        date(2026, 3, 21),
    )
    assert "SALT 1 hour weekly" in advice.summary and advice.message_id == "mh-B-2"


def test_document_reference_message_keeps_the_pdf() -> None:
    advice = read_advice_message(document_reference_message("B-3", "REQ-1", NHS))
    assert advice.signoff_name == "Anil Rao" and advice.submitted_date == date(2026, 3, 18)
    [attachment] = advice.attachments
    assert attachment.startswith("data:application/pdf;base64,")
    import base64

    assert base64.b64decode(attachment.split(",", 1)[1]) == PDF


def _problem(doc: object) -> FhirProblem:
    with pytest.raises(FhirProblem) as err:
        read_advice_message(doc)
    return err.value


@pytest.mark.parametrize(
    ("break_it", "status", "code", "expression"),
    [
        (lambda d: d.update(type="collection"), 400, "value", "Bundle.type"),
        (lambda d: d["entry"].insert(0, d["entry"].pop(1)), 400, "structure", "Bundle.entry[0].resource"),
        (
            lambda d: d["entry"][0]["resource"]["eventCoding"].update(code="booking-request"),
            422,
            "not-supported",
            "Bundle.entry[0].resource.ofType(MessageHeader).eventCoding.code",
        ),
        (
            lambda d: d["entry"][-3]["resource"]["identifier"][0].update(value="9434765918"),
            422,
            "value",
            "Bundle.entry[3].resource.ofType(Patient).identifier[0].value",
        ),
        (
            lambda d: d["entry"][2]["resource"]["identifier"][0].update(system="https://example.org/ods"),
            422,
            "required",
            "Bundle.entry[2].resource.ofType(Organization).identifier",
        ),
        (
            lambda d: d["entry"][1]["resource"].update(status="in-progress"),
            422,
            "value",
            "Bundle.entry[1].resource.ofType(QuestionnaireResponse).status",
        ),
        (
            lambda d: d["entry"][1]["resource"]["item"].pop(0),
            422,
            "required",
            "Bundle.entry[1].resource.ofType(QuestionnaireResponse).item.where(linkId='health-needs')",
        ),
        (
            lambda d: d["entry"][1]["resource"].pop("basedOn"),
            422,
            "required",
            "Bundle.entry[1].resource.ofType(QuestionnaireResponse).basedOn",
        ),
        (lambda d: d["entry"][1]["resource"].update(authored="20th March"), 400, "value", None),
    ],
)
def test_broken_messages_are_refused_naming_the_element(break_it, status: int, code: str, expression: str) -> None:
    doc = copy.deepcopy(questionnaire_response_message("B-4", "REQ-1", NHS))
    break_it(doc)
    problem = _problem(doc)
    assert problem.status == status
    assert problem.issues[0].code == code
    if expression:
        assert problem.issues[0].expression == expression
    else:
        assert problem.issues[0].expression and problem.issues[0].expression.startswith("Bundle.entry[1]")


def test_invalid_base64_attachment() -> None:
    doc = document_reference_message("B-5", "REQ-1", NHS)
    doc["entry"][1]["resource"]["content"][0]["attachment"]["data"] = "not base64!!"
    problem = _problem(doc)
    assert (problem.status, problem.issues[0].expression) == (
        400,
        "Bundle.entry[1].resource.ofType(DocumentReference).content[0].attachment.data",
    )


def test_not_a_bundle() -> None:
    assert _problem({"resourceType": "Patient"}).issues[0].expression == "Bundle"
    assert _problem([1, 2]).status == 400


def _with_extra(resource: Any) -> dict[str, Any]:
    doc = copy.deepcopy(questionnaire_response_message("B-6", "REQ-1", NHS))
    doc["entry"].append({"fullUrl": "urn:uuid:extra-1", "resource": resource})
    return doc


def test_a_resource_the_hub_does_not_read_is_checked_for_structure_only() -> None:
    """The countersigning practitioner (entry 5) and an extra Provenance are carried, not read:
    elements the R4 model would refuse do not decide whether the advice is taken."""
    doc = _with_extra({"resourceType": "Provenance", "id": "prov-1", "recorded": "yesterday"})
    doc["entry"][5]["resource"]["birthDate"] = "yesterday"
    with pytest.raises(ValidationError) as refused:
        Bundle.model_validate(doc)
    assert {e["loc"][:3] for e in refused.value.errors()} == {("entry", 5, "resource"), ("entry", 6, "resource")}
    advice = read_advice_message(doc)
    assert (advice.request_id, advice.adviser_name) == ("REQ-1", "Priya Shah")


def test_every_resource_the_hub_reads_is_validated_in_full() -> None:
    doc = copy.deepcopy(questionnaire_response_message("B-7", "REQ-1", NHS))
    doc["entry"][4]["resource"]["birthDate"] = "yesterday"  # the author, read for the adviser's name
    problem = _problem(doc)
    assert (problem.status, problem.issues[0].code) == (400, "value")
    assert problem.issues[0].expression == "Bundle.entry[4].resource.ofType(Practitioner).birthDate"
    doc = copy.deepcopy(questionnaire_response_message("B-8", "REQ-1", NHS))
    doc["entry"][0]["resource"]["source"]["endpoint"] = 42  # fhir.resources' url validator raises AttributeError
    problem = _problem(doc)
    assert (problem.status, problem.issues[0].expression) == (400, "Bundle.entry[0].resource.ofType(MessageHeader)")


@pytest.mark.parametrize(
    ("resource", "code", "expression"),
    [
        ({"resourceType": "Unicorn", "id": "u-1"}, "structure", "Bundle.entry[6].resource"),
        ({"resourceType": "HumanName"}, "structure", "Bundle.entry[6].resource"),
        ({"id": "no-type"}, "structure", "Bundle.entry[6].resource"),
        ("a string", "structure", "Bundle.entry[6].resource"),
        ({"resourceType": "Provenance", "id": "not an id!"}, "value", "Bundle.entry[6].resource.ofType(Provenance).id"),
    ],
)
def test_an_unread_resource_still_needs_a_known_type_and_a_valid_id(resource: Any, code: str, expression: str) -> None:
    problem = _problem(_with_extra(resource))
    assert (problem.status, problem.issues[0].code, problem.issues[0].expression) == (400, code, expression)


# ---- NHS England's Booking and Referral Standard examples (shared/fixtures, MIT licence) ----


def test_the_published_examples_are_there() -> None:
    assert (BARS / "LICENSE").exists(), f"NHS England's BaRS examples are missing from {BARS}"


def _load(relative: str) -> dict:
    return json.loads((BARS / relative).read_text())


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(BARS).as_posix() for p in (BARS / "OperationOutcome").rglob("*.json"))
)
def test_bars_operation_outcomes_are_valid_r4(path: str) -> None:
    outcome = OperationOutcome.model_validate(_load(path))
    assert outcome.issue and outcome.issue[0].code


def test_bars_capability_statement_and_ours_are_valid_r4() -> None:
    assert CapabilityStatement.model_validate(_load("metadata/BaRS_API_Capability_Statement.json")).fhirVersion
    ours = CapabilityStatement.model_validate(capability_statement("https://hub.example", "2026-11-25"))
    assert ours.fhirVersion == "4.0.1"
    assert {r.type for r in ours.rest[0].resource} == {"Task", "Communication", "Questionnaire", "Bundle"}
    Questionnaire.model_validate(QUESTIONNAIRE)


def test_bars_booking_message_is_valid_r4_but_not_advice() -> None:
    doc = _load("process_message/POST-body.json")
    Bundle.model_validate(doc)
    problem = _problem(doc)
    assert (problem.status, problem.issues[0].code) == (422, "not-supported")
    assert "booking-request" in problem.issues[0].diagnostics


def test_bars_nhs_numbers_are_checked_by_modulus_11() -> None:
    # 9693893123 and 9476719931 pass; 3478526985 (in the BaRS validation request and response examples)
    # fails: its check digit would be 1, so this product rejects it wherever it appears.
    assert nhs_number_problem("9693893123") is None
    assert nhs_number_problem("9476719931") is None
    assert "check digit should be 1" in (nhs_number_problem("3478526985") or "")
    doc = _load("process_message/request/ValidationRequest_POST_.json")
    assert "3478526985" in json.dumps(doc)


def test_bars_document_reference_as_health_advice() -> None:
    """NHS England's DocumentReference example, answering an advice request: it maps; with the
    patient swapped for the failing BaRS NHS number it is refused at the identifier."""
    published = _load("document_reference/POST-body.json")
    DocumentReference.model_validate(published)
    doc = copy.deepcopy(published)
    doc.update(id="bars-doc", status="current", context={"related": [{"reference": "ServiceRequest/REQ-9"}]})
    message = document_reference_message("B-6", "REQ-9", published["subject"]["identifier"]["value"], ods="RGT")
    message["entry"][1] = {"fullUrl": "urn:uuid:doc-B-6", "resource": doc}
    advice = read_advice_message(message)
    assert (advice.request_id, advice.nhs_number, advice.sender_ods) == ("REQ-9", "9693893123", "RGT")
    assert advice.attachments == [published["content"][0]["attachment"]["url"]]
    doc["subject"]["identifier"]["value"] = "3478526985"
    assert (
        _problem(message).issues[0].expression
        == "Bundle.entry[1].resource.ofType(DocumentReference).subject.identifier.value"
    )


# ---- HL7's own R4 examples (tests/data/hl7-r4, CC0) ----

HL7 = Path(__file__).resolve().parent.parent / "data" / "hl7-r4"


def test_hl7_task_example_is_valid_r4_and_our_tasks_look_like_it() -> None:
    from fhir.resources.R4B.task import Task

    example = Task.model_validate_json((HL7 / "Task-example1.json").read_bytes())
    ours = Task.model_validate(
        request_message(_request(), "B-9", "https://hub.example/fhir", "2026-02-09T09:00:00Z")["entry"][1]["resource"]
    )
    assert (example.intent, ours.intent) == ("order", "order")
    assert example.restriction.period.end and ours.restriction.period.end
    assert example.focus.reference.startswith("ServiceRequest/") and ours.focus.reference.startswith("ServiceRequest/")


def test_hl7_document_reference_example_is_refused_until_it_meets_uk_core() -> None:
    """HL7's example has no NHS number, no ODS sender and no link to a request: each is named in turn."""
    published = json.loads((HL7 / "DocumentReference-example.json").read_text())
    DocumentReference.model_validate(published)
    message = document_reference_message("B-10", "REQ-10", NHS)
    message["entry"][1] = {"fullUrl": "urn:uuid:hl7-doc", "resource": copy.deepcopy(published)}
    message["entry"][0]["resource"]["focus"] = [{"reference": "urn:uuid:hl7-doc"}]
    problem = _problem(message)
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "required",
        "Bundle.entry[1].resource.ofType(DocumentReference).context.related",
    )
    message["entry"][1]["resource"]["context"]["related"].append({"reference": "ServiceRequest/REQ-10"})
    problem = _problem(message)
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "not-found",
        "Bundle.entry[1].resource.ofType(DocumentReference).subject",
    )
    message["entry"][1]["resource"]["subject"] = {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}
    }
    advice = read_advice_message(message)
    assert advice.request_id == "REQ-10" and advice.submitted_date == date(2005, 12, 24)
    assert advice.attachments == ["http://example.org/xds/mhd/Binary/07a6483f-732b-461e-86b6-edb665c45510"]
    assert advice.summary == "Physical"


def _hl7(name: str) -> dict[str, Any]:
    return dict(json.loads((HL7 / name).read_text()))


@pytest.mark.parametrize("name", sorted(p.name for p in HL7.glob("*.json")))
def test_hl7_examples_are_valid_r4(name: str) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    doc = _hl7(name)
    get_fhir_model_class(doc["resourceType"]).model_validate(doc)


@pytest.mark.parametrize(
    "name", ["Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json", "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json"]
)
def test_hl7_message_bundles_are_refused_for_their_event(name: str) -> None:
    """HL7's patient-link request and response are well-formed messages, but not health advice."""
    problem = _problem(_hl7(name))
    assert (problem.status, problem.issues[0].code) == (422, "not-supported")
    assert problem.issues[0].expression == "Bundle.entry[0].resource.ofType(MessageHeader).eventCoding.code"
    assert "'patient-link'" in problem.issues[0].diagnostics


def _carrying(resource: dict[str, Any], bundle_id: str) -> dict[str, Any]:
    """Our advice message with its focus swapped for one of HL7's resources."""
    message = document_reference_message(bundle_id, "REQ-20", NHS)
    url = f"urn:uuid:hl7-{bundle_id}"
    message["entry"][1] = {"fullUrl": url, "resource": resource}
    message["entry"][0]["resource"]["focus"] = [{"reference": url}]
    return message


def test_hl7_service_request_is_not_advice() -> None:
    problem = _problem(_carrying(_hl7("ServiceRequest-example.json"), "B-21"))
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "required",
        "Bundle.entry[0].resource.ofType(MessageHeader).focus",
    )


def test_hl7_questionnaire_response_must_answer_the_hubs_questionnaire() -> None:
    """HL7's Lifelines response (answering Questionnaire f201) is refused at its questionnaire, then at
    the first EHC item it leaves unanswered once pointed at ours."""
    assert _hl7("Questionnaire-f201.json")["url"] != QUESTIONNAIRE["url"]
    response = _hl7("QuestionnaireResponse-f201.json")
    response["questionnaire"] = _hl7("Questionnaire-f201.json")["url"]
    problem = _problem(_carrying(response, "B-22"))
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "not-supported",
        "Bundle.entry[1].resource.ofType(QuestionnaireResponse).questionnaire",
    )
    response["questionnaire"] = QUESTIONNAIRE["url"]
    problem = _problem(_carrying(response, "B-22"))
    assert problem.issues[0].code == "required"
    assert problem.issues[0].expression.startswith(
        "Bundle.entry[1].resource.ofType(QuestionnaireResponse).item.where(linkId="
    )


def test_hl7_composition_becomes_advice_once_it_names_the_request_and_the_patient() -> None:
    composition = _hl7("Composition-example.json")
    message = _carrying(composition, "B-23")
    problem = _problem(message)
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "required",
        "Bundle.entry[1].resource.ofType(Composition).event.detail",
    )
    composition["event"] = [{"detail": [{"reference": "ServiceRequest/REQ-23"}]}]
    problem = _problem(message)
    assert (problem.issues[0].code, problem.issues[0].expression) == (
        "not-found",
        "Bundle.entry[1].resource.ofType(Composition).subject",
    )
    composition["subject"] = {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": NHS}}
    advice = read_advice_message(message)
    assert (advice.request_id, advice.nhs_number, advice.submitted_date) == ("REQ-23", NHS, date(2012, 1, 4))
    assert (advice.adviser_name, advice.signoff_name, advice.signoff_date) == (
        "Harold Hippocrates, MD",
        "Harold Hippocrates, MD",
        date(2012, 1, 4),
    )
    assert advice.output_reference == "Composition/example"
