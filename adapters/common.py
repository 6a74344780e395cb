"""What every adapter shares: the port through which it hands canonical events to the hub, and
the error type its mapping code raises. Adapters depend on this and on ``schemas``, never on the
hub's internals; the hub supplies the port's implementation when it mounts an adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from schemas.common import Agency
from schemas.events import Event


class MappingError(ValueError):
    """An agency record that cannot become a canonical event: names the field and the rule."""

    def __init__(self, message: str, *, field: str, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class Unavailable(Exception):
    """The hub cannot make an event durable now (the event log or the store is unreachable). The
    sender is told to try again later (503 with Retry-After); resending with the same
    Idempotency-Key, or the same content, cannot make a second event."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submission:
    """An event an organisation hands to the hub. ``sender`` is the organisation the caller's
    credential speaks for (never a field of the event); the hub refuses it (403) where the case,
    request or referral belongs to another organisation. ``None`` is the hub's own doing."""

    event: Event
    source: str
    event_id: str | None = None
    sender: Sender | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    time: datetime | None = None


class Sender(Protocol):
    """The organisation behind a submission, as the credential says (``adapters.access.Organisation``)."""

    @property
    def agency(self) -> Agency: ...

    @property
    def code(self) -> str: ...

    @property
    def la_code(self) -> str | None: ...


@dataclass(frozen=True)
class SubmitResult:
    """``accepted``: durably on Kafka; ``unchanged``: this exact event was accepted before;
    ``rejected``: refused with the field, the rule and an HTTP status to answer with."""

    outcome: Literal["accepted", "unchanged", "rejected"]
    event_id: str
    status: int = 202
    message: str = ""
    field: str | None = None
    rule: str | None = None


class EventPort(Protocol):
    async def submit_many(self, submissions: list[Submission]) -> list[SubmitResult]:
        """Judge each submission against what the hub knows, then publish the acceptable ones."""
        ...
