"""Property tests of the envelope decoder, the first code every record from Kafka meets: whatever
the bytes, it answers with an event or an EventRejected naming a rule, and never with anything else
(which would crash a consumer or skip the dead-letter path)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.envelope import EventRejected, decode, encode, envelope_for
from tests.helpers import assessment_requested

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
VALID = json.loads(encode(envelope_for(assessment_requested("C-1"), source="/la/202/sen")))


def _decodes_or_names_a_rule(raw: bytes) -> None:
    try:
        envelope, event = decode(raw)
    except EventRejected as exc:
        assert exc.rule, f"a rejection without a rule: {exc}"
        return
    again_envelope, again_event = decode(encode(envelope))  # what was accepted survives re-encoding
    assert (again_envelope.id, again_event) == (envelope.id, event)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes(raw: bytes) -> None:
    _decodes_or_names_a_rule(raw)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_document(doc: Any) -> None:
    _decodes_or_names_a_rule(json.dumps(doc).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID)), JSON_VALUES)
def test_a_valid_envelope_with_one_attribute_replaced(attribute: str, value: Any) -> None:
    _decodes_or_names_a_rule(json.dumps({**VALID, attribute: value}).encode())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(VALID["data"])), JSON_VALUES)
def test_a_valid_event_with_one_field_replaced(field: str, value: Any) -> None:
    _decodes_or_names_a_rule(json.dumps({**VALID, "data": {**VALID["data"], field: value}}).encode())


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=5000), st.sampled_from(["[", '{"a":']))
def test_nesting_of_any_depth(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    _decodes_or_names_a_rule((opener * depth + "1" + closer * depth).encode())
