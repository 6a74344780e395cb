"""JSON Schema files for every published event version, and the check that guards them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.compat import breaking_changes
from schemas.envelope import Envelope
from schemas.events import ALL_EVENTS, Event

PUBLISHED_DIR = Path(__file__).resolve().parent / "published"


def schema_name(event: type[Event]) -> str:
    return f"{event.event_type}.v{event.version}.json"


def event_schema(event: type[Event]) -> dict[str, Any]:
    schema = event.model_json_schema()
    schema["$id"] = f"urn:ehc-hub:schema:{event.event_type}:v{event.version}"
    schema["x-cloudevents-type"] = event.cloudevent_type()
    schema["x-kafka-topic"] = event.topic
    return schema


def current_schemas() -> dict[str, dict[str, Any]]:
    out = {schema_name(e): event_schema(e) for e in ALL_EVENTS}
    envelope = Envelope.model_json_schema()
    envelope["$id"] = "urn:ehc-hub:schema:envelope:v1"
    out["envelope.v1.json"] = envelope
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def check_published(published_dir: Path = PUBLISHED_DIR) -> dict[str, list[str]]:
    """Breaking changes per published schema file; a published version that vanished is breaking too."""
    current = current_schemas()
    problems: dict[str, list[str]] = {}
    for path in sorted(published_dir.glob("*.json")):
        if path.name not in current:
            problems[path.name] = ["published event version no longer exists"]
            continue
        found = breaking_changes(json.loads(path.read_text()), current[path.name])
        if found:
            problems[path.name] = found
    return problems


def unpublished(published_dir: Path = PUBLISHED_DIR) -> list[str]:
    return sorted(set(current_schemas()) - {p.name for p in published_dir.glob("*.json")})
