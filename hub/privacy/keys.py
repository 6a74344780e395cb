"""The key-encryption key (KEK) that wraps every data key, and the keyed blind index.

The KEK never leaves the hub's process: the store holds data keys only as the KEK wrapped them,
so a copy of the store without the KEK reveals nothing. The embedded default derives the KEK from
a master secret in a file (created on first start, readable by its owner only) or in
``HUB_PRIVACY__MASTER_KEY``. A KMS or HSM plugs in through ``KeyWrapper``: name an object that
provides it in ``HUB_PRIVACY__KEY_WRAPPER`` (``package.module:factory``, called with the settings).

The same master secret gives the blind-index key, so a person's identifiers can name their data
keys without being written anywhere in clear: an HMAC cannot be reversed by trying every NHS
number (about 10^9) without the secret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from hub.settings import PrivacySettings

NONCE_BYTES = 12
KEY_BYTES = 32


class KeyWrapper(Protocol):
    """Wraps and unwraps data keys. ``name`` is stored with each wrapped key, so a store whose keys
    were wrapped by another KEK (after a rotation, or a restore elsewhere) says so instead of
    failing to decrypt."""

    name: str

    def wrap(self, data_key: bytes, kid: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, kid: str) -> bytes: ...


class LocalKeyWrapper:
    """AES-256-GCM under a KEK held in memory, with the key's id as associated data: a wrapped key
    copied to another id does not unwrap."""

    def __init__(self, kek: bytes) -> None:
        self._aead = AESGCM(kek)
        self.name = "local:" + hashlib.sha256(kek).hexdigest()[:12]

    def wrap(self, data_key: bytes, kid: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, kid.encode())

    def unwrap(self, wrapped: bytes, kid: str) -> bytes:
        return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], kid.encode())


def derive(master: bytes, purpose: str) -> bytes:
    """A key for one purpose from the master secret (HKDF-SHA-256), so no two uses share a key."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()).derive(master)


class BlindIndex:
    """Names a person's or a case's data key by an HMAC of what identifies it."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, kind: str, value: str) -> str:
        return "k" + hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def master_secret(settings: PrivacySettings) -> bytes:
    """The master secret from the environment, else from its file, which is made on first use."""
    if settings.master_key is not None:
        return _decoded(settings.master_key.get_secret_value(), "HUB_PRIVACY__MASTER_KEY")
    path = Path(settings.master_key_file)
    if not path.exists():
        _make_secret_file(path)
    return _decoded(path.read_text().strip(), str(path))


def _make_secret_file(path: Path) -> None:
    """Write a new secret whole, then link it into place: instances starting together on one
    directory either make the file or read the one that won, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp makes it readable by its owner only
            out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
        with contextlib.suppress(FileExistsError):  # another instance made it first: theirs stands
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _decoded(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(f"{where} is not base64") from None
    if len(secret) < KEY_BYTES:
        raise ValueError(f"{where} must hold at least {KEY_BYTES} random bytes, base64-encoded")
    return secret


def key_wrapper(settings: PrivacySettings, master: bytes) -> KeyWrapper:
    """The configured KMS or HSM wrapper, else the local one."""
    if not settings.key_wrapper:
        return LocalKeyWrapper(derive(master, "ehc-hub key-encryption key v1"))
    module, _, name = settings.key_wrapper.partition(":")
    factory = getattr(importlib.import_module(module), name)
    wrapper: KeyWrapper = factory(settings)
    return wrapper


def blind_index(master: bytes) -> BlindIndex:
    return BlindIndex(derive(master, "ehc-hub blind index v1"))
