"""Deterministic ids for everything the hub derives from an event, so redelivery repeats them exactly."""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("5b0c3a52-4d0e-4f0a-9a57-2f3c8e1d9b11")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def derived_id(source_id: str, purpose: str) -> str:
    """``uuid5(_NAMESPACE, f"{source_id}:{purpose}")`` as a string, without building UUID objects:
    the router derives several ids per event, and ``uuid.uuid5`` costs more than the hash itself."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source_id}:{purpose}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
