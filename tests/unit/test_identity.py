from hub.domain.identity import identifiers, link
from schemas.common import PersonRef

NHS_A, NHS_B = "9434765919", "9990000018"


def test_new_person_gets_every_identifier() -> None:
    ref = PersonRef(nhs_number=NHS_A, la_person_id="P1", la_code="202", upn="H801200001001")
    result = link(ref, {}, {})
    assert result.person_key and not result.conflicts
    assert {(t, v) for t, v, _ in result.new_links} == set(identifiers(ref))


def test_known_person_is_extended_by_a_new_identifier() -> None:
    known = {("nhs_number", NHS_A): "K1"}
    result = link(PersonRef(nhs_number=NHS_A, uln="1000000043"), known, {"K1": {"nhs_number"}})
    assert result.person_key == "K1"
    assert result.new_links == [("uln", "1000000043", "K1")]


def test_second_nhs_number_for_one_la_person_is_a_conflict_not_a_merge() -> None:
    known = {("la_person_id:202", "P1"): "K1", ("nhs_number", NHS_A): "K1"}
    result = link(
        PersonRef(nhs_number=NHS_B, la_person_id="P1", la_code="202"), known, {"K1": {"nhs_number", "la_person_id:202"}}
    )
    assert result.new_links == []
    assert result.conflicts == ["person K1 already has a different nhs_number"]


def test_identifiers_of_two_people_are_not_merged() -> None:
    known = {("nhs_number", NHS_A): "K1", ("la_person_id:202", "P9"): "K2"}
    result = link(PersonRef(nhs_number=NHS_A, la_person_id="P9", la_code="202"), known, {})
    assert result.person_key is None and result.new_links == []
    assert "different people" in result.conflicts[0]


def test_la_person_ids_are_scoped_by_la() -> None:
    a = identifiers(PersonRef(la_person_id="P1", la_code="202"))
    b = identifiers(PersonRef(la_person_id="P1", la_code="886"))
    assert a != b
