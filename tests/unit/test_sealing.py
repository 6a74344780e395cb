"""Sealing the personal parts of events, and the keys that do it (hub.privacy): what leaves the
hub sealed, what opens, and what reads as erased once a key is gone."""

from __future__ import annotations

import os
import stat
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import SecretStr

from hub.privacy.keys import LocalKeyWrapper, blind_index, derive, master_secret
from hub.privacy.sealing import (
    ERASED_TEXT,
    FREE_TEXT,
    NO_SHAPE,
    Sealer,
    _shape_of_contract,
    marks_erasure,
    parts_of,
    shape_of,
)
from hub.settings import PrivacySettings
from schemas.common import Contract, PersonRef
from schemas.envelope import envelope_for, validate_document
from schemas.events import ALL_EVENTS, ChangeOfCircumstancesRecorded
from tests.helpers import assessment_requested, panel_outcome, person

MASTER = bytes(range(32))
SEALER = Sealer(blind_index(MASTER))


def doc_of(event: Any) -> dict[str, Any]:
    return envelope_for(event, source="/tests").model_dump(mode="json", exclude_none=True)


def keys_for(doc: dict[str, Any]) -> dict[str, bytes]:
    return {kid: derive(MASTER, kid) for kid in SEALER.plan(doc)}


def test_a_sealed_event_holds_no_identifier_name_or_date_of_birth_and_opens_to_what_was_sealed() -> None:
    doc = doc_of(assessment_requested("C-1"))
    keys = keys_for(doc)
    sealed = SEALER.seal(doc, keys)
    raw = str(sealed)
    for secret in (doc["data"]["person"]["nhs_number"], "Amira", "Okafor", "2010-03-14", "la_person_id"):
        assert secret not in raw
    assert sealed["data"]["person"] == {"la_code": "202"} and sealed["data"]["case_id"] == "C-1"
    assert sealed["dataschema"] == "urn:ehc-hub:schema:assessment-requested:v1:sealed", "a contract of its own"
    opened, erased = SEALER.open(sealed, keys)
    assert not erased and opened == doc
    validate_document(opened)


def test_records_naming_types_the_hub_does_not_know_leave_no_trace_in_memory() -> None:
    """A producer may put anything in ``type``: opening such records, sealed with keys the hub
    does not hold, remembers nothing per type."""
    doc = doc_of(assessment_requested("C-SHAPE"))
    sealed = SEALER.seal(doc, keys_for(doc))
    shape_of(doc["type"])
    remembered = _shape_of_contract.cache_info().currsize
    for n in range(2000):
        opened, erased = SEALER.open({**sealed, "type": f"made-up-{n}"}, {})
        assert erased and opened["type"] == f"made-up-{n}"
    assert _shape_of_contract.cache_info().currsize == remembered
    assert shape_of("made-up-0") == NO_SHAPE and shape_of(doc["type"]).persons


def test_without_its_key_a_person_reads_as_erased_and_the_event_still_validates() -> None:
    event = ChangeOfCircumstancesRecorded(
        change_id="CH-1",
        la_code="202",
        person=person(3),
        change_date="2026-05-01",  # type: ignore[arg-type]
        description="moved in with grandparents",
        recorded_by="sw-1",
    )
    doc = doc_of(event)
    sealed = SEALER.seal(doc, keys_for(doc))
    assert "grandparents" not in str(sealed) and sealed["data"]["description"] == ERASED_TEXT
    assert [kid for kid, _ in parts_of(sealed)] == [SEALER.person_kid(doc["data"]["person"])], "about the person"
    opened, erased = SEALER.open(sealed, {})
    assert erased
    _, read = validate_document(opened)
    assert isinstance(read, ChangeOfCircumstancesRecorded)
    assert read.person == PersonRef(la_code="202", erased=True) and read.description == ERASED_TEXT


def test_free_text_about_no_one_person_is_sealed_under_the_record_it_is_filed_under() -> None:
    doc = doc_of(panel_outcome("C-9"))
    plan = SEALER.plan(doc)
    assert list(plan) == [SEALER.record_kid("C-9")]
    assert {path for path, _ in plan[SEALER.record_kid("C-9")]} == {
        ("health_summary",),
        ("social_care_summary",),
        ("education_summary",),
    }


def test_a_part_moved_under_another_key_id_or_altered_does_not_open() -> None:
    doc = doc_of(assessment_requested("C-2"))
    keys = keys_for(doc)
    sealed = SEALER.seal(doc, keys)
    [(kid, ciphertext)] = parts_of(sealed)
    other = SEALER.record_kid("elsewhere")
    moved = {**sealed, "sealed": f"{other}:{ciphertext}"}
    assert SEALER.open(moved, {other: keys[kid]})[1]
    flipped = ciphertext[:-2] + ("A" if ciphertext[-2] != "A" else "B") + ciphertext[-1]
    assert SEALER.open({**sealed, "sealed": f"{kid}:{flipped}"}, keys)[1]


def test_one_person_has_one_key_id_whatever_else_the_reference_holds() -> None:
    ref = person(4).model_dump(mode="json", exclude_none=True)
    assert SEALER.person_kid(ref) == SEALER.person_kid({"nhs_number": ref["nhs_number"]})
    assert SEALER.person_kid(ref) != Sealer(blind_index(bytes(32))).person_kid(ref)  # keyed: no secret, no match


def test_only_the_hub_marks_a_person_erased() -> None:
    doc = doc_of(assessment_requested("C-3"))
    assert not marks_erasure(doc["type"], doc["data"])
    doc["data"]["person"] = {"la_code": "202", "erased": True}
    assert marks_erasure(doc["type"], doc["data"])


def _text_fields(model: type[Contract]) -> typing.Iterator[tuple[str, str]]:
    for name, info in model.model_fields.items():
        args = typing.get_args(info.annotation) if isinstance(info.annotation, types.UnionType) else ()
        if info.annotation is str or str in args:
            yield model.__name__, name


NOT_PERSONAL = {
    "kind",
    "message",
    "recorded_by",
    "decided_by",
    "eligibility_indication",
    "plan_extract_ground",
    "recipient",
    "lawful_basis",
}


def test_every_free_text_field_of_every_contract_is_classified() -> None:
    """A new text field that is neither an id, a code nor classified fails here: it must be added
    to FREE_TEXT (sealed) or shown to be not personal."""
    seen: set[type[Contract]] = set()
    unclassified = []

    def visit(model: type[Contract]) -> None:
        if model in seen:
            return
        seen.add(model)
        for owner, name in _text_fields(model):
            if name in FREE_TEXT.get(owner, ()) or name.endswith(("_id", "_code")) or name in NOT_PERSONAL:
                continue
            if owner not in ("PersonRef", "OrganisationRef", "Adviser", "PlanSections", "NhsOrganisation"):
                unclassified.append(f"{owner}.{name}")
        for info in model.model_fields.values():
            for inner in _contracts(info.annotation):
                visit(inner)

    for event in ALL_EVENTS:
        visit(event)
    assert unclassified == []
    assert shape_of(assessment_requested("C").cloudevent_type()).persons == (("person",),)


def _contracts(annotation: Any) -> list[type[Contract]]:
    found = []
    for arg in (annotation, *typing.get_args(annotation)):
        for inner in (arg, *typing.get_args(arg)):
            if isinstance(inner, type) and issubclass(inner, Contract):
                found.append(inner)
    return found


def test_a_wrapped_data_key_unwraps_only_under_its_own_id_and_key_encryption_key() -> None:
    wrapper = LocalKeyWrapper(derive(MASTER, "kek"))
    wrapped = wrapper.wrap(b"k" * 32, "kid-1")
    assert wrapper.unwrap(wrapped, "kid-1") == b"k" * 32
    with pytest.raises(InvalidTag):
        wrapper.unwrap(wrapped, "kid-2")
    with pytest.raises(InvalidTag):
        LocalKeyWrapper(derive(MASTER, "another")).unwrap(wrapped, "kid-1")


def test_the_master_secret_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = PrivacySettings(master_key_file=str(tmp_path / "keys" / "master.key"))
    first = master_secret(settings)
    assert master_secret(settings) == first and len(first) == 32
    assert stat.S_IMODE(os.stat(settings.master_key_file).st_mode) == 0o600
    with pytest.raises(ValueError, match="at least 32"):
        master_secret(PrivacySettings(master_key=SecretStr("c2hvcnQ=")))
