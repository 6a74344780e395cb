import copy
import json

from schemas.compat import breaking_changes
from schemas.export import PUBLISHED_DIR, check_published, current_schemas, unpublished


def test_published_versions_are_compatible_with_the_code() -> None:
    assert check_published() == {}
    assert unpublished() == []


def _published(name: str) -> dict:
    return json.loads((PUBLISHED_DIR / name).read_text())


def test_additions_of_optional_fields_are_compatible() -> None:
    old = _published("assessment-requested.v1.json")
    new = copy.deepcopy(old)
    new["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert breaking_changes(old, new) == []


def test_breaking_changes_are_named() -> None:
    old = _published("assessment-requested.v1.json")
    new = copy.deepcopy(old)
    new["required"].append("note")
    new["properties"]["note"] = {"type": "string"}
    del new["properties"]["school"]
    new["$defs"]["Requester"]["enum"].remove("parent")
    new["properties"]["case_id"]["maxLength"] = 10
    new["properties"]["received_date"] = {"type": "integer"}
    problems = breaking_changes(old, new)
    assert "$.note: new required property" in problems
    assert "$.school: property removed" in problems
    assert "$.requested_by: enum value 'parent' removed" in problems
    assert "$.case_id: maxLength tightened to 10" in problems
    assert "$.received_date: type string is no longer accepted" in problems


def test_optional_becoming_required_is_breaking() -> None:
    old = _published("assessment-requested.v1.json")
    new = copy.deepcopy(old)
    new["required"].append("year_group")
    assert breaking_changes(old, new) == ["$.year_group: became required"]


def test_export_names_each_schema_by_type_and_version() -> None:
    schemas = current_schemas()
    assert schemas["assessment-requested.v1.json"]["x-kafka-topic"] == "ehc.assessment-requests.v1"
    assert "envelope.v1.json" in schemas
