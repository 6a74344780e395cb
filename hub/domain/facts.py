"""What judging one event yields: its consequences, or the rule it breaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.events import Event


class RuleViolation(Exception):
    def __init__(self, message: str, *, field: str, rule: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule
        self.retryable = retryable


@dataclass
class WorkflowOutcome:
    """What an event does to its case, and the events it gives rise to."""

    case_fields: dict[str, Any] = field(default_factory=dict)
    advice_requests: list[dict[str, Any]] = field(default_factory=list)
    advice_updates: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    emitted: list[Event] = field(default_factory=list)
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    referral_updates: list[dict[str, Any]] = field(default_factory=list)
