"""Keyed pseudonyms for people, the same in the dashboard and in logs.

A pseudonym is an HMAC-SHA-256 of an identifier under a secret key, so it cannot be reversed by
hashing every possible NHS number (about 10^9 of them, a second's work against a bare hash). The
key comes from ``HUB_AUTH__PSEUDONYM_KEY``; without one, each process draws its own at start, so
pseudonyms still correlate lines within one run but not across restarts or instances.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

_key = secrets.token_bytes(32)


def set_key(key: bytes | str) -> None:
    global _key
    _key = key.encode() if isinstance(key, str) else key


def pseudonym(value: object) -> str:
    return "p:" + hmac.new(_key, str(value).encode(), hashlib.sha256).hexdigest()[:16]
