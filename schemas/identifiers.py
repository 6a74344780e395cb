"""Identifier types used across agencies, each validated by its published check algorithm.

The algorithms follow the NHS Data Dictionary (NHS number, Modulus 11), DfE's UPN guidance
(check letter, modulus 23), the Learning Records Service (ULN) and the ODS and DfE/ONS code
formats. Each failure names the rule broken, so an agency can fix the record at source.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE check letters: no I, O or S


def _strip_spaces(value: object) -> object:
    return value.replace(" ", "").replace("-", "") if isinstance(value, str) else value


def nhs_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid NHS number, or None when it is."""
    if not re.fullmatch(r"\d{10}", value):
        return "NHS number must be 10 digits"
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return "NHS number fails the Modulus 11 check (check digit would be 10)"
    if check != int(value[9]):
        return f"NHS number fails the Modulus 11 check (check digit should be {check})"
    return None


def upn_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Unique Pupil Number, or None when it is."""
    if len(value) != 13:
        return "UPN must be 13 characters"
    if not re.fullmatch(r"[A-HJ-NP-RT-Z]", value[0]):
        return "UPN character 1 must be a check letter (A-Z without I, O, S)"
    if not value[1:12].isdigit():
        return "UPN characters 2-12 must be numeric"
    if not (value[12].isdigit() or value[12] in UPN_LETTERS):
        return "UPN character 13 not a recognised value"
    total = 0
    for weight, ch in zip(range(2, 14), value[1:], strict=True):
        total += weight * (int(ch) if ch.isdigit() else UPN_LETTERS.index(ch))
    expected = UPN_LETTERS[total % 23]
    if value[0] != expected:
        return f"UPN has the wrong check letter at character 1 (expected {expected})"
    return None


def uln_problem(value: str) -> str | None:
    """Why ``value`` is not a valid Unique Learner Number, or None when it is."""
    if not re.fullmatch(r"\d{10}", value):
        return "ULN must be 10 digits"
    if value == "9999999999":
        return None  # the LRS temporary ULN, accepted by ILR validation
    remainder = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True)) % 11
    if remainder == 0:
        return "ULN fails the check-digit rule (remainder 0 is never issued)"
    if int(value[9]) != 10 - remainder:
        return f"ULN fails the check-digit rule (check digit should be {10 - remainder})"
    return None


def ods_code_problem(value: str) -> str | None:
    """ODS organisation codes are 3 to 6 upper-case letters and digits (trusts RXX, practices A12345)."""
    if not re.fullmatch(r"[A-Z0-9]{3,6}", value):
        return "ODS organisation code must be 3 to 6 upper-case letters or digits"
    return None


def la_code_problem(value: str) -> str | None:
    """A DfE 3-digit LA number (e.g. 202) or an ONS/GSS 9-character code (e.g. E09000007)."""
    if re.fullmatch(r"\d{3}", value) or re.fullmatch(r"E(06|07|08|09|10)\d{6}", value):
        return None
    return "LA code must be a DfE 3-digit LA number or an ONS code E06/E07/E08/E09/E10 + 6 digits"


def _checked(problem: Callable[[str], str | None], rule: str) -> AfterValidator:
    """A validator whose error type is the rule's name, so rejections name the rule broken."""

    def check(value: str) -> str:
        reason = problem(value)
        if reason:
            raise PydanticCustomError(rule, reason)
        return value

    return AfterValidator(check)


NhsNumber = Annotated[
    str,
    BeforeValidator(_strip_spaces),
    _checked(nhs_number_problem, "nhs-number-modulus-11"),
    Field(description="NHS number, 10 digits with a Modulus 11 check digit", examples=["9434765919"]),
]
Upn = Annotated[
    str,
    BeforeValidator(lambda v: _strip_spaces(v).upper() if isinstance(v, str) else v),
    _checked(upn_problem, "upn-check-letter"),
    Field(description="Unique Pupil Number with DfE check letter", examples=["H801200001001"]),
]
Uln = Annotated[
    str,
    BeforeValidator(_strip_spaces),
    _checked(uln_problem, "uln-check-digit"),
    Field(description="Unique Learner Number (LRS)", examples=["1000000043"]),
]
OdsCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    _checked(ods_code_problem, "ods-code-format"),
    Field(description="ODS organisation code", examples=["RBS", "A81001"]),
]
LaCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    _checked(la_code_problem, "la-code-format"),
    Field(description="DfE LA number or ONS/GSS code", examples=["202", "E09000007"]),
]
