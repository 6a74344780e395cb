"""Deterministic ids for everything the hub derives from an event, so redelivery repeats them exactly."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("5b0c3a52-4d0e-4f0a-9a57-2f3c8e1d9b11")


def derived_id(source_id: str, purpose: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{source_id}:{purpose}"))
