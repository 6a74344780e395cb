"""The CloudEvents 1.0 envelope every canonical event travels in, and its Kafka binding.

Events are written in CloudEvents *structured* mode (the whole envelope is the record value,
``content-type: application/cloudevents+json``), so any CloudEvents-aware tool can read them.
Correlation and causation ids are CloudEvents extension attributes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events import EVENTS_BY_TYPE, Event

CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_BASE = "urn:ehc-hub:schema:"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1, description="URI-reference of the producing system, e.g. /la/202/sen")
    type: str = Field(min_length=1)
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    correlationid: str = Field(min_length=1)
    causationid: str | None = None
    sealed: str | None = Field(
        default=None,
        description="extension attribute: the personal parts of data, sealed per person by the hub "
        "(hub.privacy.sealing); set by the hub only",
    )
    data: dict[str, Any]


class EventRejected(Exception):
    """A record that can never succeed as it is: it goes straight to the dead-letter topic."""

    def __init__(self, reason: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.rule = rule


def envelope_for(
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap a payload; a new correlation id starts a new conversation."""
    eid = event_id or str(uuid.uuid4())
    return Envelope(
        id=eid,
        source=source,
        type=event.cloudevent_type(),
        subject=event.key(),
        time=time or datetime.now(UTC),
        dataschema=f"{SCHEMA_BASE}{event.event_type}:v{event.version}",
        correlationid=correlation_id or eid,
        causationid=causation_id,
        data=event.model_dump(mode="json", exclude_none=True),
    )


def encode(envelope: Envelope) -> bytes:
    return envelope.model_dump_json(exclude_none=True).encode()


def describe_validation_error(exc: ValidationError, prefix: str = "") -> tuple[str, str, str]:
    """(field path, rule, message) of the first error, so a sender can fix it without guessing."""
    err = exc.errors()[0]
    path = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
    message = err["msg"].removeprefix("Value error, ")
    return path or "(root)", err["type"], message


class JsonRefused(ValueError):
    """A body that is not JSON the hub will read: names the rule it broke."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


def parse_json(raw: bytes) -> Any:
    """JSON from untrusted bytes. Hostile shapes that make the parser itself fail (nesting deeper
    than the interpreter's recursion allows, a number of thousands of digits) are refused with a
    rule like any other bad input, never left to surface as a server error."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JsonRefused(f"not JSON: {exc}", "json") from None
    except RecursionError:
        raise JsonRefused("JSON nested too deeply", "json-depth") from None
    except ValueError as exc:  # int() refuses more than sys.get_int_max_str_digits() digits
        raise JsonRefused(f"a JSON number is too long: {exc}", "json-number") from None


def read_document(raw: bytes | None) -> dict[str, Any]:
    """A record value as the JSON object it must be. Raises EventRejected naming the rule broken."""
    if raw is None:
        raise EventRejected("record has no value", rule="required")
    try:
        doc = parse_json(raw)
    except JsonRefused as exc:
        raise EventRejected(f"record value: {exc.message}", rule=exc.rule) from None
    if not isinstance(doc, dict):
        raise EventRejected("record value must be a JSON object (a CloudEvent)", rule="type")
    return doc


def validate_document(doc: dict[str, Any]) -> tuple[Envelope, Event]:
    """A CloudEvent document as its envelope and typed payload. Raises EventRejected naming the
    field and the rule broken."""
    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError as exc:
        field, rule, msg = describe_validation_error(exc)
        raise EventRejected(f"{field}: {msg}", field=field, rule=rule) from None
    model = EVENTS_BY_TYPE.get(envelope.type)
    if model is None:
        raise EventRejected(f"unknown event type {envelope.type!r}", field="type", rule="known-event-type")
    try:
        event = model.model_validate(envelope.data)
    except ValidationError as exc:
        field, rule, msg = describe_validation_error(exc, "data")
        raise EventRejected(f"{field}: {msg}", field=field, rule=rule) from None
    return envelope, event


def decode(raw: bytes | None) -> tuple[Envelope, Event]:
    """Parse and validate one record value into its envelope and typed payload (a sealed record
    must be opened first: see ``hub.privacy``).

    Raises EventRejected naming the field and the rule broken.
    """
    return validate_document(read_document(raw))
