import pytest
from pydantic import TypeAdapter, ValidationError

from schemas.identifiers import (
    LaCode,
    NhsNumber,
    OdsCode,
    Uln,
    Upn,
    la_code_problem,
    nhs_number_problem,
    uln_problem,
    upn_problem,
)


def test_nhs_number_worked_example_from_the_data_dictionary() -> None:
    assert nhs_number_problem("9434765919") is None
    assert "check digit should be 9" in (nhs_number_problem("9434765918") or "")


def test_nhs_number_whose_check_digit_would_be_10_is_invalid() -> None:
    def weighted(body: str) -> int:
        return sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))

    body = next(f"{n:09d}" for n in range(1000) if 11 - weighted(f"{n:09d}") % 11 == 10)
    for last in "0123456789":
        assert "check digit would be 10" in (nhs_number_problem(body + last) or "")


@pytest.mark.parametrize("bad", ["943476591", "94347659190", "94347659AB", ""])
def test_nhs_number_format(bad: str) -> None:
    assert nhs_number_problem(bad) == "NHS number must be 10 digits"


def test_nhs_number_type_accepts_spaces_and_names_the_rule() -> None:
    assert TypeAdapter(NhsNumber).validate_python("943 476 5919") == "9434765919"
    with pytest.raises(ValidationError) as err:
        TypeAdapter(NhsNumber).validate_python("943 476 5918")
    assert err.value.errors()[0]["type"] == "nhs-number-modulus-11"


def test_upn_dfe_examples() -> None:
    assert upn_problem("H801200001001") is None
    assert upn_problem("G80120000101A") is None  # temporary UPN, letter in position 13
    assert upn_problem("Z801200001001") == "UPN has the wrong check letter at character 1 (expected H)"
    assert upn_problem("I801200001001") == "UPN character 1 must be a check letter (A-Z without I, O, S)"
    assert upn_problem("H8012000010") == "UPN must be 13 characters"
    assert TypeAdapter(Upn).validate_python("h801200001001") == "H801200001001"


def test_uln_esfa_examples() -> None:
    assert uln_problem("1000000043") is None
    assert uln_problem("9999999999") is None  # LRS temporary ULN
    assert "remainder 0" in (uln_problem("1000000063") or "")
    assert "check digit should be 3" in (uln_problem("1000000044") or "")
    with pytest.raises(ValidationError):
        TypeAdapter(Uln).validate_python("1000000063")


def test_ods_and_la_codes() -> None:
    assert TypeAdapter(OdsCode).validate_python(" rbs ") == "RBS"
    with pytest.raises(ValidationError):
        TypeAdapter(OdsCode).validate_python("R-BS!")
    assert la_code_problem("202") is None
    assert la_code_problem("E09000007") is None
    assert la_code_problem("E12000001") is not None  # a region, not an LA
    with pytest.raises(ValidationError):
        TypeAdapter(LaCode).validate_python("20")
