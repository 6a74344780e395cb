"""Derived ids must never change between releases: a rebuilt store and redelivered records depend on them."""

from __future__ import annotations

import uuid

import pytest

from hub.domain.ids import _NAMESPACE, derived_id


@pytest.mark.parametrize(
    ("source_id", "purpose"),
    [("0b6f3c1e-aaaa-4bbb-8ccc-123456789abc", "audit:nhs"), ("é", ""), ("x" * 500, "emit:a:b:c")],
)
def test_derived_id_is_uuid5_of_the_source_and_purpose(source_id: str, purpose: str) -> None:
    assert derived_id(source_id, purpose) == str(uuid.uuid5(_NAMESPACE, f"{source_id}:{purpose}"))


def test_derived_ids_differ_by_purpose() -> None:
    assert derived_id("e-1", "audit:nhs") != derived_id("e-1", "audit:education")
