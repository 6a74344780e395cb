import json
from datetime import date

import pytest

from schemas.envelope import EventRejected, decode, encode, envelope_for
from schemas.events import EVENTS_BY_TYPE, AssessmentRequested, PlanRecorded
from tests.helpers import assessment_requested


def _raw(**data_overrides: object) -> bytes:
    env = envelope_for(assessment_requested("C-1"), source="/la/202/sen")
    doc = json.loads(encode(env))
    doc["data"].update(data_overrides)
    return json.dumps(doc).encode()


def test_round_trip_keeps_every_attribute() -> None:
    event = assessment_requested("C-1")
    env = envelope_for(event, source="/la/202/sen", correlation_id="corr-1", causation_id="cause-1")
    decoded_env, decoded = decode(encode(env))
    assert decoded == event
    assert decoded_env.type == "uk.ehc-hub.assessment-requested.v1"
    assert decoded_env.subject == "C-1"
    assert (decoded_env.correlationid, decoded_env.causationid) == ("corr-1", "cause-1")
    assert decoded_env.dataschema == "urn:ehc-hub:schema:assessment-requested:v1"


@pytest.mark.parametrize(
    ("raw", "rule", "field"),
    [
        (b"\xff\xfe", "json", None),
        (b"not json", "json", None),
        (b"[1, 2]", "type", None),
        (b'{"id": "x"}', "missing", "source"),
    ],
)
def test_structural_rejections(raw: bytes, rule: str, field: str | None) -> None:
    with pytest.raises(EventRejected) as err:
        decode(raw)
    assert err.value.rule == rule
    assert err.value.field == field


def test_unknown_event_type() -> None:
    doc = json.loads(_raw())
    doc["type"] = "uk.ehc-hub.nonsense.v1"
    with pytest.raises(EventRejected) as err:
        decode(json.dumps(doc).encode())
    assert (err.value.field, err.value.rule) == ("type", "known-event-type")


def test_invalid_identifier_names_field_and_rule() -> None:
    raw = _raw(person={"nhs_number": "9434765918"})
    with pytest.raises(EventRejected) as err:
        decode(raw)
    assert err.value.field == "data.person.nhs_number"
    assert err.value.rule == "nhs-number-modulus-11"
    assert "Modulus 11" in err.value.reason


def test_person_without_identifier_and_unknown_field_are_refused() -> None:
    with pytest.raises(EventRejected) as err:
        decode(_raw(person={"given_name": "A"}))
    assert "at least one identifier" in err.value.reason
    with pytest.raises(EventRejected) as err:
        decode(_raw(surprise=1))
    assert (err.value.field, err.value.rule) == ("data.surprise", "extra_forbidden")


def test_review_type_rule() -> None:
    with pytest.raises(ValueError, match="review_type"):
        PlanRecorded(case_id="C", la_code="202", kind="reviewed", event_date=date(2026, 1, 1))


def test_every_event_type_is_registered_once() -> None:
    assert len(EVENTS_BY_TYPE) == len(set(EVENTS_BY_TYPE))
    assert EVENTS_BY_TYPE[AssessmentRequested.cloudevent_type()] is AssessmentRequested


def test_hostile_json_is_refused_with_a_rule_not_a_crash() -> None:
    import pytest

    from schemas.envelope import EventRejected, JsonRefused, decode, parse_json

    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(JsonRefused) as err:
        parse_json(deep)
    assert err.value.rule == "json-depth"
    with pytest.raises(JsonRefused) as err:
        parse_json(b'{"n": ' + b"9" * 100_000 + b"}")
    assert err.value.rule == "json-number"
    with pytest.raises(EventRejected) as rejected:
        decode(deep)
    assert rejected.value.rule == "json-depth"
